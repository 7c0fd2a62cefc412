"""Products: what the store sells, at what price, and how to find them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from sqlalchemy import CheckConstraint, String, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from models.base import Base, created_at
from models.stock.tables import StockLevel


class Product(Base):
    __tablename__ = "products"

    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    price_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3), default="usd")
    created_at: Mapped[dt.datetime] = created_at()
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now(), onupdate=func.now())

    stock_levels: Mapped[list[StockLevel]] = relationship(
        back_populates="product", cascade="all, delete-orphan", order_by="StockLevel.warehouse"
    )

    __table_args__ = (CheckConstraint("price_cents >= 0", name="price_not_negative"),)


def upsert_product(
    session: Session,
    *,
    sku: str,
    name: str,
    price_cents: int,
    currency: str = "usd",
    stock: Mapping[str, int] | None = None,
) -> Product:
    """Create or update a product; ``stock`` sets on-hand units per named warehouse."""
    product = session.get(Product, sku, with_for_update=True)
    if product is None:
        product = Product(sku=sku, name=name, price_cents=price_cents, currency=currency)
        session.add(product)
    else:
        product.name, product.price_cents, product.currency = name, price_cents, currency
    for warehouse, on_hand in sorted((stock or {}).items()):
        session.execute(
            insert(StockLevel)
            .values(sku=sku, warehouse=warehouse, on_hand=on_hand)
            .on_conflict_do_update(
                index_elements=[StockLevel.sku, StockLevel.warehouse],
                set_={"on_hand": on_hand, "updated_at": func.now()},
            )
        )
    session.flush()
    return product


def _like_pattern(query: str) -> str:
    escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_products(
    session: Session, *, query: str | None = None, after_sku: str | None = None, limit: int = 20
) -> list[Product]:
    """Products in sku order after ``after_sku`` (keyset paging), ``query`` in sku or name."""
    statement = select(Product).order_by(Product.sku).limit(limit)
    if query:
        pattern = _like_pattern(query)
        statement = statement.where(
            or_(Product.sku.ilike(pattern, escape="\\"), Product.name.ilike(pattern, escape="\\"))
        )
    if after_sku is not None:
        statement = statement.where(Product.sku > after_sku)
    return list(session.scalars(statement))


def on_hand_by_warehouse(session: Session, sku: str) -> dict[str, int]:
    return dict(
        session.execute(
            select(StockLevel.warehouse, StockLevel.on_hand)
            .where(StockLevel.sku == sku)
            .order_by(StockLevel.warehouse)
        ).all()
    )
