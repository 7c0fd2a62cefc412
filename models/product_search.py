"""The storefront's product search: filters, sort orders and keyset pages, with stock.

Above the catalogue and the stock (it reads each listed product's availability in the
same statement), so that ``models.catalog`` stays below ``models.stock``.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    Select,
    String,
    bindparam,
    func,
    null,
    or_,
    select,
    tuple_,
)
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


def _ordered(statement: Listing, sort: ProductSort, *, paged: bool) -> Listing:
    # One index each (ix_products_name_sku, ix_products_price_cents_sku); "-price" reads
    # the price index backwards, so equal prices come in descending sku order there.
    first = Product.name if sort is ProductSort.NAME else Product.price_cents
    key = tuple_(first, Product.sku)
    after = tuple_(bindparam("after_first", type_=first.type), bindparam("after_sku", type_=String))
    if sort is ProductSort.PRICE_DESC:
        statement = statement.order_by(first.desc(), Product.sku.desc())
        return statement.where(key < after) if paged else statement
    statement = statement.order_by(first, Product.sku)
    return statement.where(key > after) if paged else statement


@functools.cache
def _listing(
    sort: ProductSort,
    *,
    paged: bool,
    query: bool,
    min_price: bool,
    max_price: bool,
    in_stock: bool | None,
    with_stock: bool,
) -> Listing:
    """The listing statement of one shape, built once; a search only binds its values."""
    available = func.coalesce(available_units_of(Product.sku), 0)
    columns = [Product.sku, Product.name, Product.description, Product.price_cents]
    statement: Listing = (
        select(*columns, Product.currency, available if with_stock else null())
        .where(Product.active)
        .limit(bindparam("limit", type_=Integer))
    )
    if query:
        pattern = bindparam("pattern", type_=String)
        statement = statement.where(
            or_(Product.sku.ilike(pattern, escape="\\"), Product.name.ilike(pattern, escape="\\"))
        )
    if min_price:
        statement = statement.where(Product.price_cents >= bindparam("min_price", type_=Integer))
    if max_price:
        statement = statement.where(Product.price_cents <= bindparam("max_price", type_=Integer))
    if in_stock is not None:
        statement = statement.where(available > 0 if in_stock else available <= 0)
    return _ordered(statement, sort, paged=paged)


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
    statement = _listing(
        sort,
        paged=after is not None,
        query=bool(filters.query),
        min_price=filters.min_price_cents is not None,
        max_price=filters.max_price_cents is not None,
        in_stock=filters.in_stock,
        with_stock=with_stock,
    )
    parameters: dict[str, Any] = {
        "limit": limit,
        "min_price": filters.min_price_cents,
        "max_price": filters.max_price_cents,
    }
    if filters.query:
        parameters["pattern"] = like_pattern(filters.query)
    if after is not None:
        parameters["after_first"], parameters["after_sku"] = after
    rows = session.execute(statement, parameters)
    return [
        ListedProduct(sku, name, description, price, currency, units(free) if with_stock else None)
        for sku, name, description, price, currency, free in rows
    ]
