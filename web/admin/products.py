"""Admin: the product list, and create or update a product with its on-hand stock per
warehouse."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from pydantic import AfterValidator, ConfigDict, Field, StrictBool, StrictInt, StringConstraints

from models.catalog import on_hand_by_warehouse, staff_products, upsert_product
from models.db import Session
from models.orders.checkout import MAX_CHARGE_CENTS
from models.product_images import ready_images_by_sku
from models.stock.availability import available_units
from services.settings import get_settings
from web import cursors
from web.admin import bp
from web.errors import APIError
from web.serializers import product_json
from web.validation import Schema, parse_body, parse_query, storable

__all__ = ["bp"]

MAX_SKU_LENGTH = 64
MAX_DESCRIPTION_LENGTH = 5000
Warehouse = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class ProductBody(Schema):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(storable)]
    price_cents: StrictInt = Field(ge=0, le=MAX_CHARGE_CENTS)
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}$", to_lower=True)] = "usd"
    description: (
        Annotated[
            str, StringConstraints(max_length=MAX_DESCRIPTION_LENGTH), AfterValidator(storable)
        ]
        | None
    ) = None
    active: StrictBool | None = None
    stock: dict[Warehouse, Annotated[StrictInt, Field(ge=0, le=1_000_000_000)]] = {}


class ProductListQuery(Schema):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    q: Annotated[str, StringConstraints(max_length=200)] | None = None
    cursor: Annotated[str, StringConstraints(max_length=1000)] | None = None
    limit: int = Field(50, ge=1, le=200)


def product_page(query: ProductListQuery) -> dict[str, object]:
    """One page of the staff's product list (the JSON API's and the page's)."""
    after = cursors.decode(query.cursor, parts=1)[0] if query.cursor else None
    with Session.begin() as session:
        found = staff_products(session, query=query.q, after_sku=after, limit=query.limit + 1)
    page = found[: query.limit]
    more = len(found) > query.limit
    return {
        "items": [dataclasses.asdict(product) for product in page],
        "next_cursor": cursors.encode(page[-1].sku) if more else None,
    }


@bp.get("/api/products")
def list_products():
    return product_page(parse_query(ProductListQuery))


def check_sku(sku: str) -> None:
    if not 1 <= len(sku) <= MAX_SKU_LENGTH or sku != sku.strip():
        raise APIError(
            422,
            "validation_error",
            "The request is invalid.",
            errors=[{"field": "sku", "message": f"1 to {MAX_SKU_LENGTH} characters, no padding"}],
        )


def save_product(sku: str, body: ProductBody) -> dict[str, Any]:
    """Create or update ``sku`` (the API's PUT and the edit page's form); the admin shape."""
    check_sku(sku)
    with Session.begin() as session:
        product = upsert_product(
            session,
            sku=sku,
            name=body.name,
            price_cents=body.price_cents,
            currency=body.currency,
            description=body.description,
            active=body.active,
            stock=body.stock,
        )
        images = ready_images_by_sku(session, [sku])[sku]
        response = product_json(
            product,
            available_units(session, [sku])[sku],
            images,
            media_url=get_settings().media_url,
        )
        response["active"] = product.active
        response["stock"] = on_hand_by_warehouse(session, sku)
    return response


@bp.put("/api/products/<sku>")
def put_product(sku: str):
    check_sku(sku)
    return save_product(sku, parse_body(ProductBody))
