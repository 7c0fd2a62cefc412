"""Product read routes (API.md "Products"): search with cursor paging, availability."""

from __future__ import annotations

from typing import Annotated

from flask import Blueprint
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from models.catalog import Product, search_products
from models.db import Session
from models.stock.reader import checked_available_units
from web import cursors
from web.errors import APIError
from web.serializers import product_json
from web.validation import parse_query
from worker.settings import get_settings

bp = Blueprint("products", __name__)

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


class ProductQuery(BaseModel):
    """Query string of the listing; unknown parameters are ignored, as browsers add some."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    q: Annotated[str, StringConstraints(max_length=200)] | None = None
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    cursor: Annotated[str, StringConstraints(max_length=200)] | None = None


def _availability(skus: list[str]) -> dict[str, int] | None:
    return checked_available_units(skus, timeout_ms=get_settings().stock_query_timeout_ms)


@bp.get("/api/products")
def list_products():
    query = parse_query(ProductQuery)
    after = cursors.decode(query.cursor, parts=1)[0] if query.cursor else None
    with Session.begin() as session:
        # One row more than asked tells whether there is a next page.
        found = search_products(session, query=query.q, after_sku=after, limit=query.limit + 1)
    page = found[: query.limit]
    available = _availability([product.sku for product in page])
    items = [
        product_json(product, None if available is None else available[product.sku])
        for product in page
    ]
    next_cursor = cursors.encode(page[-1].sku) if len(found) > query.limit else None
    return {"items": items, "next_cursor": next_cursor}


@bp.get("/api/products/<sku>")
def get_product(sku: str):
    with Session.begin() as session:
        product = session.get(Product, sku)
        if product is None:
            raise APIError(404, "not_found", f"No such product: {sku}.")
    available = _availability([sku])
    return product_json(product, None if available is None else available[sku])
