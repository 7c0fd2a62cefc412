"""Admin: create or update a product and set its on-hand stock per warehouse."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictBool, StrictInt, StringConstraints

from models.catalog import on_hand_by_warehouse, upsert_product
from models.db import Session
from models.orders.checkout import MAX_CHARGE_CENTS
from models.product_images import ready_images_by_sku
from models.stock.availability import available_units
from services.settings import get_settings
from web.admin import bp
from web.errors import APIError
from web.serializers import product_json
from web.validation import Schema, parse_body

__all__ = ["bp"]

MAX_SKU_LENGTH = 64
MAX_DESCRIPTION_LENGTH = 5000
Warehouse = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class ProductBody(Schema):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    price_cents: StrictInt = Field(ge=0, le=MAX_CHARGE_CENTS)
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}$", to_lower=True)] = "usd"
    description: Annotated[str, StringConstraints(max_length=MAX_DESCRIPTION_LENGTH)] | None = None
    active: StrictBool | None = None
    stock: dict[Warehouse, Annotated[StrictInt, Field(ge=0, le=1_000_000_000)]] = {}


@bp.put("/api/products/<sku>")
def put_product(sku: str):
    if not 1 <= len(sku) <= MAX_SKU_LENGTH or sku != sku.strip():
        raise APIError(
            422,
            "validation_error",
            "The request is invalid.",
            errors=[{"field": "sku", "message": f"1 to {MAX_SKU_LENGTH} characters, no padding"}],
        )
    body = parse_body(ProductBody)
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
