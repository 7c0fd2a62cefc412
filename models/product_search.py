"""The storefront's product search: filters, sort orders and keyset pages, with stock.

Above the catalogue and the stock (it reads each listed product's availability in the
same statement), so that ``models.catalog`` stays below ``models.stock``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, func, null, or_, select, tuple_
from sqlalchemy.orm import Session

from models.catalog import Product, like_pattern
from models.stock.availability import available_units_of, units

# A listing statement: its columns depend on the options asked for.
Listing = Select[*tuple[Any, ...]]


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


def _ordered(statement: Listing, sort: ProductSort, after: SortKey | None) -> Listing:
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
    filters = filters or ProductFilters()
    with_stock = with_stock or filters.in_stock is not None
    available = func.coalesce(available_units_of(Product.sku), 0)
    columns = [Product.sku, Product.name, Product.description, Product.price_cents]
    statement: Listing = (
        select(*columns, Product.currency, available if with_stock else null())
        .where(Product.active)
        .limit(limit)
    )
    if filters.query:
        pattern = like_pattern(filters.query)
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
