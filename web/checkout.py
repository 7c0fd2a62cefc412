"""Checkout route (API.md "Checkout"): parses the body; ``flows.checkout`` does the rest."""

from __future__ import annotations

from typing import Annotated

from flask import Blueprint, jsonify
from pydantic import EmailStr, StrictBool, StringConstraints

from flows import checkout
from web.serializers import checkout_json
from web.validation import Schema, parse_body

bp = Blueprint("checkout", __name__)


Line = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Country = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2}$", to_upper=True)]


class ShippingAddress(Schema):
    name: Line
    line1: Line
    line2: Annotated[str, StringConstraints(max_length=200)] | None = None
    city: Line
    postal_code: Annotated[str, StringConstraints(min_length=1, max_length=20)]
    country: Country


class CheckoutBody(Schema):
    email: EmailStr
    shipping_address: ShippingAddress
    acknowledge_price_changes: StrictBool = False
    marketing_consent: StrictBool | None = None


@bp.post("/api/carts/<cart_id>/checkout")
def checkout_cart(cart_id: str):
    body = parse_body(CheckoutBody)
    result = checkout.checkout_cart(
        cart_id,
        email=body.email,
        shipping_address=body.shipping_address.model_dump(),
        acknowledge_price_changes=body.acknowledge_price_changes,
        marketing_consent=body.marketing_consent,
    )
    return jsonify(checkout_json(result)), 201 if result.created else 200
