"""The recommendation tables: neighbours and sales built by the rebuild, views, exclusions."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Index, SmallInteger, String, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, created_at


class ProductNeighbour(Base):
    """One of a product's top neighbours: bought with it, scored by cosine similarity."""

    __tablename__ = "product_neighbours"

    # No foreign keys: their checks were a sixth of the rebuild's time, and nothing needs
    # them: the rebuild only writes products that order lines (which have the key) name,
    # serving reads products by key, and the next rebuild drops a row for one gone.
    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    neighbour_sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    rank: Mapped[int] = mapped_column(SmallInteger)
    score: Mapped[float]
    co_purchases: Mapped[int]
    built_at: Mapped[dt.datetime]

    __table_args__ = (Index("ix_product_neighbours_neighbour_sku", "neighbour_sku"),)


class ProductSales(Base):
    """How many paid orders hold each product, as of the last rebuild (the bestsellers)."""

    __tablename__ = "product_sales"

    sku: Mapped[str] = mapped_column(
        ForeignKey("products.sku", ondelete="CASCADE"), primary_key=True
    )
    orders: Mapped[int]
    built_at: Mapped[dt.datetime]

    __table_args__ = (Index("ix_product_sales_orders_sku", "orders", "sku"),)


class RecommendationExclusion(Base):
    """A product staff keep out of every recommendation."""

    __tablename__ = "recommendation_exclusions"

    sku: Mapped[str] = mapped_column(
        ForeignKey("products.sku", ondelete="CASCADE"), primary_key=True
    )
    excluded_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[dt.datetime] = created_at()


class ProductView(Base):
    """A visitor (signed cookie id; the email when known) opened a product."""

    __tablename__ = "product_views"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    visitor_id: Mapped[str] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(320))
    sku: Mapped[str] = mapped_column(ForeignKey("products.sku", ondelete="CASCADE"))
    viewed_at: Mapped[dt.datetime]
    source_id: Mapped[str] = mapped_column(String(64), unique=True)

    __table_args__ = (
        Index("ix_product_views_visitor_id_viewed_at", "visitor_id", "viewed_at"),
        Index(
            "ix_product_views_email_viewed_at",
            "email",
            "viewed_at",
            postgresql_where=text("email IS NOT NULL"),
        ),
        Index("ix_product_views_viewed_at", "viewed_at"),
        Index("ix_product_views_sku", "sku"),
    )
