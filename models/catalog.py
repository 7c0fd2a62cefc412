"""Products: what the store sells, at what price, and how to find them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import (
    CheckConstraint,
    Index,
    String,
    Text,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from models.base import Base, created_at
from models.errors import UnknownWarehouse
from models.stock.tables import StockLevel
from models.warehouses.tables import Warehouse


class Product(Base):
    __tablename__ = "products"

    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    price_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3), default="usd")
    created_at: Mapped[dt.datetime] = created_at()
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now(), onupdate=func.now())

    stock_levels: Mapped[list[StockLevel]] = relationship(
        back_populates="product", cascade="all, delete-orphan", order_by="StockLevel.warehouse"
    )

    __table_args__ = (
        CheckConstraint("price_cents >= 0", name="price_not_negative"),
        # The storefront's listing orders (search_products); sku makes each order total.
        Index("ix_products_name_sku", "name", "sku"),
        Index("ix_products_price_cents_sku", "price_cents", "sku"),
    )


def upsert_product(
    session: Session,
    *,
    sku: str,
    name: str,
    price_cents: int,
    currency: str = "usd",
    description: str | None = None,
    active: bool | None = None,
    stock: Mapping[str, int] | None = None,
) -> Product:
    """Create or update a product; ``stock`` sets on-hand units per warehouse code.

    ``description`` and ``active`` left None keep what the product has (a new one: empty,
    active).

    Raises ``UnknownWarehouse`` (nothing written) for a code no warehouse has.
    """
    codes = sorted(stock or {})
    known = set(session.scalars(select(Warehouse.code).where(Warehouse.code.in_(codes))))
    unknown = [code for code in codes if code not in known]
    if unknown:
        raise UnknownWarehouse(f"stock.{unknown[0]}", "no warehouse has this code")
    product = session.get(Product, sku, with_for_update=True)
    if product is None:
        product = Product(
            sku=sku,
            name=name,
            price_cents=price_cents,
            currency=currency,
            description="",
            active=True,
        )
        session.add(product)
    else:
        product.name, product.price_cents, product.currency = name, price_cents, currency
    if description is not None:
        product.description = description
    if active is not None:
        product.active = active
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


def like_pattern(query: str) -> str:
    escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def on_hand_by_warehouse(session: Session, sku: str) -> dict[str, int]:
    return dict(
        session.execute(
            select(StockLevel.warehouse, StockLevel.on_hand)
            .where(StockLevel.sku == sku)
            .order_by(StockLevel.warehouse)
        ).all()
    )


@dataclass(frozen=True, slots=True)
class StaffProduct:
    """A row of the staff's product list: inactive products too, with their image count."""

    sku: str
    name: str
    price_cents: int
    currency: str
    active: bool
    images: int


def staff_products(
    session: Session, *, query: str | None, after_sku: str | None, limit: int
) -> list[StaffProduct]:
    """Products whose sku or name contains ``query``, in sku order after ``after_sku``."""
    from models.product_images import ProductImage

    images = (
        select(func.count())
        .where(ProductImage.sku == Product.sku)
        .correlate(Product)
        .scalar_subquery()
    )
    statement = select(
        Product.sku, Product.name, Product.price_cents, Product.currency, Product.active, images
    )
    if query:
        pattern = like_pattern(query)
        statement = statement.where(
            or_(Product.sku.ilike(pattern, escape="\\"), Product.name.ilike(pattern, escape="\\"))
        )
    if after_sku is not None:
        statement = statement.where(Product.sku > after_sku)
    rows = session.execute(statement.order_by(Product.sku).limit(limit))
    return [StaffProduct(*row) for row in rows]
