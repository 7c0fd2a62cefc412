"""Products: what the store sells, at what price, and how to find them."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import (
    CheckConstraint,
    Connection,
    Index,
    Select,
    String,
    Text,
    func,
    null,
    or_,
    select,
    text,
    tuple_,
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


class ProductSort(enum.StrEnum):
    """Listing orders; every one ends on sku, so the order is total and keyset paging exact."""

    NAME = "name"
    PRICE = "price"
    PRICE_DESC = "-price"


@dataclass(frozen=True)
class ProductFilters:
    """What a listing keeps: ``query`` in sku or name, a price range, and in or out of stock.

    ``in_stock`` True keeps products with free units, False those without, None all.
    """

    query: str | None = None
    min_price_cents: int | None = None
    max_price_cents: int | None = None
    in_stock: bool | None = None


@dataclass(frozen=True, slots=True)
class ListedProduct:
    """One listing row; ``available`` is None when stock was not read."""

    sku: str
    name: str
    description: str
    price_cents: int
    currency: str
    available: int | None


SortKey = tuple[str | int, str]


def sort_key(product: ListedProduct, sort: ProductSort) -> SortKey:
    """The keyset position of ``product`` in ``sort``: (name or price, sku)."""
    return (product.name if sort is ProductSort.NAME else product.price_cents, product.sku)


def _like_pattern(query: str) -> str:
    escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _ordered(statement: Select, sort: ProductSort, after: SortKey | None) -> Select:
    # One index each (ix_products_name_sku, ix_products_price_cents_sku); "-price" reads
    # the price index backwards, so equal prices come in descending sku order there.
    first = Product.name if sort is ProductSort.NAME else Product.price_cents
    key = tuple_(first, Product.sku)
    if sort is ProductSort.PRICE_DESC:
        statement = statement.order_by(first.desc(), Product.sku.desc())
        return statement if after is None else statement.where(key < tuple_(*after))
    statement = statement.order_by(first, Product.sku)
    return statement if after is None else statement.where(key > tuple_(*after))


def search_products(
    session: Session | Connection,
    *,
    filters: ProductFilters | None = None,
    sort: ProductSort = ProductSort.NAME,
    after: SortKey | None = None,
    limit: int = 20,
    with_stock: bool = True,
) -> list[ListedProduct]:
    """Active products matching ``filters`` in ``sort`` order, after the key ``after``.

    With ``with_stock`` each row carries its available units, read by the one availability
    rule in the same statement; an ``in_stock`` filter reads them in any case, in SQL.
    """
    # availability builds on Product, so it can only be imported once this module is.
    from models.stock.availability import available_units_of, units

    filters = filters or ProductFilters()
    with_stock = with_stock or filters.in_stock is not None
    available = func.coalesce(available_units_of(Product.sku), 0)
    columns = [Product.sku, Product.name, Product.description, Product.price_cents]
    statement = (
        select(*columns, Product.currency, available if with_stock else null())
        .where(Product.active)
        .limit(limit)
    )
    if filters.query:
        pattern = _like_pattern(filters.query)
        statement = statement.where(
            or_(Product.sku.ilike(pattern, escape="\\"), Product.name.ilike(pattern, escape="\\"))
        )
    if filters.min_price_cents is not None:
        statement = statement.where(Product.price_cents >= filters.min_price_cents)
    if filters.max_price_cents is not None:
        statement = statement.where(Product.price_cents <= filters.max_price_cents)
    if filters.in_stock is not None:
        statement = statement.where(available > 0 if filters.in_stock else available <= 0)
    rows = session.execute(_ordered(statement, sort, after))
    return [
        ListedProduct(sku, name, description, price, currency, units(free) if with_stock else None)
        for sku, name, description, price, currency, free in rows
    ]


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
        pattern = _like_pattern(query)
        statement = statement.where(
            or_(Product.sku.ilike(pattern, escape="\\"), Product.name.ilike(pattern, escape="\\"))
        )
    if after_sku is not None:
        statement = statement.where(Product.sku > after_sku)
    rows = session.execute(statement.order_by(Product.sku).limit(limit))
    return [StaffProduct(*row) for row in rows]
