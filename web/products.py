"""Product read routes (API.md "Products"): search, filters, sorts, keyset paging, stock.

The listing is one statement on the bounded stock reader (models.stock.reader): the
products and their available units together. When stock cannot be read in time the
listing still answers, with ``available`` null, unless it was asked to filter on stock
(``in_stock``), which then answers 503 ``stock_unavailable``.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any

from flask import Blueprint
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError

from models.catalog import Product
from models.db import Session
from models.errors import StockUnavailable
from models.product_images import ready_images_by_sku
from models.product_search import (
    ListedProduct,
    ProductFilters,
    ProductSort,
    search_products,
    sort_key,
)
from models.stock import reader
from models.stock.reader import checked_available_units
from services.settings import get_settings
from web import cursors, visitor
from web.errors import APIError
from web.serializers import product_json
from web.validation import parse_query

bp = Blueprint("products", __name__)

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
Price = Annotated[int, Field(ge=0, le=cursors.MAX_PRICE_CENTS)]


class ProductQuery(BaseModel):
    """Query string of the listing; unknown parameters are ignored, as browsers add some."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    q: Annotated[str, StringConstraints(max_length=200)] | None = None
    min_price_cents: Price | None = None
    max_price_cents: Price | None = None
    in_stock: bool | None = None
    sort: ProductSort = ProductSort.NAME
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    cursor: Annotated[str, StringConstraints(max_length=1000)] | None = None

    @field_validator("max_price_cents")
    @classmethod
    def _not_below_min(cls, value: int | None, info: ValidationInfo) -> int | None:
        low = info.data.get("min_price_cents")
        if value is not None and low is not None and value < low:
            raise ValueError("must not be below min_price_cents")
        return value

    def filters(self) -> ProductFilters:
        return ProductFilters(
            query=self.q,
            min_price_cents=self.min_price_cents,
            max_price_cents=self.max_price_cents,
            in_stock=self.in_stock,
        )


def _search(query: ProductQuery) -> list[ListedProduct]:
    """The page asked for and one row more, which tells whether there is a next page."""
    after = cursors.decode_product(query.cursor, query.sort) if query.cursor else None
    filters = query.filters()
    timeout_ms = get_settings().stock_query_timeout_ms

    def search(connection: Connection, *, with_stock: bool = True) -> list[ListedProduct]:
        return search_products(
            connection,
            filters=filters,
            sort=query.sort,
            after=after,
            limit=query.limit + 1,
            with_stock=with_stock,
        )

    try:
        return reader.read(timeout_ms, search)
    except OperationalError as error:
        if not reader.timed_out(error):
            raise
        if filters.in_stock is not None:
            raise StockUnavailable(
                "Stock cannot be verified right now; try again shortly."
            ) from None
    return reader.read(timeout_ms, functools.partial(search, with_stock=False))


@bp.get("/api/products")
def list_products():
    query = parse_query(ProductQuery)
    found = _search(query)
    page = found[: query.limit]
    next_cursor = None
    if len(found) > query.limit:
        next_cursor = cursors.encode_product(query.sort, sort_key(page[-1], query.sort))
    media_url = get_settings().media_url
    with Session.begin() as session:
        images = ready_images_by_sku(session, [product.sku for product in page])
        items = [
            product_json(product, product.available, images[product.sku], media_url=media_url)
            for product in page
        ]
    return {"items": items, "next_cursor": next_cursor}


def product_document(sku: str) -> dict[str, Any]:
    """The JSON of ``GET /api/products/{sku}``; the storefront's product page renders it too."""
    with Session.begin() as session:
        product = session.get(Product, sku)
        if product is None or not product.active:
            raise APIError(404, "not_found", f"No such product: {sku}.")
        images = ready_images_by_sku(session, [sku])[sku]
    visitor.record_view(sku)
    settings = get_settings()
    available = checked_available_units([sku], timeout_ms=settings.stock_query_timeout_ms)
    return product_json(
        product,
        None if available is None else available[sku],
        images,
        media_url=settings.media_url,
    )


@bp.get("/api/products/<sku>")
def get_product(sku: str):
    return product_document(sku)
