"""Cart routes (API.md "Carts"): versioned writes with ETag / If-Match, stock-checked lines."""

from __future__ import annotations

from typing import Annotated

from flask import Blueprint, jsonify, request
from pydantic import AfterValidator, EmailStr, Field, StrictBool, StrictInt, StringConstraints

from flows.cart_events import record_event
from models.base import utcnow
from models.carts import edits, reads
from models.carts.reads import CartView, StockPolicy
from models.carts.tables import MAX_QUANTITY
from models.db import Session
from services.settings import get_settings
from web.serializers import cart_json
from web.validation import Schema, parse_body

bp = Blueprint("carts", __name__)


def _sold_here(currency: str) -> str:
    sold = get_settings().store_currencies
    if currency not in sold:
        raise ValueError(f"The store sells in {', '.join(sold)} only.")
    return currency


Currency = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z]{3}$", to_lower=True),
    AfterValidator(_sold_here),
]
Sku = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class NewCart(Schema):
    email: EmailStr | None = None
    currency: Currency = "usd"
    marketing_consent: StrictBool | None = None


class AddItem(Schema):
    sku: Sku
    quantity: StrictInt = Field(ge=1, le=MAX_QUANTITY)


class SetQuantity(Schema):
    quantity: StrictInt = Field(ge=0, le=MAX_QUANTITY)


class ApplyCode(Schema):
    code: Annotated[str, StringConstraints(min_length=1, max_length=64)]


def stock_policy() -> StockPolicy:
    settings = get_settings()
    return StockPolicy(
        timeout_ms=settings.stock_query_timeout_ms, fallback=settings.enable_warehouse_fallback
    )


def expected_version() -> int | None:
    """The version in ``If-Match`` (quotes and ``W/`` optional); None when absent or ``*``."""
    raw = request.headers.get("If-Match", "").strip()
    if not raw or raw == "*":
        return None
    raw = raw.removeprefix("W/").strip('"')
    # A malformed tag can never match a version (they start at 1): 409 like a stale one.
    # isdigit() alone also takes digits int() refuses ("\u00b2"), and int() refuses
    # strings past its digit limit; no cart reaches a 19-digit version.
    wellformed = raw.isascii() and raw.isdigit() and len(raw) <= 18
    return int(raw) if wellformed else 0


def cart_response(view: CartView, status: int = 200):
    response = jsonify(cart_json(view))
    response.status_code = status
    response.headers["ETag"] = f'"{view.version}"'
    return response


@bp.post("/api/carts")
def create_cart():
    body = parse_body(NewCart)
    # A new cart has no consent to keep: consent is given now, a refusal records nothing.
    consent_at = utcnow() if body.marketing_consent else None
    with Session.begin() as session:
        view = edits.create_cart(
            session, email=body.email, currency=body.currency, marketing_consent_at=consent_at
        )
        record_event(session, view, "created")
    response = cart_response(view, 201)
    response.headers["Location"] = f"/api/carts/{view.id}"
    return response


@bp.get("/api/carts/<cart_id>")
def get_cart(cart_id: str):
    return cart_response(reads.read_view(cart_id, policy=stock_policy()))


@bp.post("/api/carts/<cart_id>/items")
def add_item(cart_id: str):
    body = parse_body(AddItem)
    with Session.begin() as session:
        view = edits.add_item(
            session,
            cart_id=cart_id,
            sku=body.sku,
            quantity=body.quantity,
            policy=stock_policy(),
            expected_version=expected_version(),
        )
        record_event(session, view, "item_added", sku=body.sku, quantity=body.quantity)
    return cart_response(view)


@bp.patch("/api/carts/<cart_id>/items/<sku>")
def set_quantity(cart_id: str, sku: str):
    body = parse_body(SetQuantity)
    with Session.begin() as session:
        view = edits.set_quantity(
            session,
            cart_id=cart_id,
            sku=sku,
            quantity=body.quantity,
            policy=stock_policy(),
            expected_version=expected_version(),
        )
        kind = "item_removed" if body.quantity == 0 else "item_updated"
        record_event(session, view, kind, sku=sku, quantity=body.quantity)
    return cart_response(view)


@bp.delete("/api/carts/<cart_id>/items/<sku>")
def remove_item(cart_id: str, sku: str):
    with Session.begin() as session:
        view = edits.remove_item(
            session,
            cart_id=cart_id,
            sku=sku,
            policy=stock_policy(),
            expected_version=expected_version(),
        )
        record_event(session, view, "item_removed", sku=sku, quantity=0)
    return cart_response(view)


@bp.post("/api/carts/<cart_id>/discount")
def apply_discount(cart_id: str):
    body = parse_body(ApplyCode)
    with Session.begin() as session:
        view = edits.apply_discount(
            session,
            cart_id=cart_id,
            code=body.code,
            policy=stock_policy(),
            expected_version=expected_version(),
        )
        record_event(session, view, "discount_applied")
    return cart_response(view)


@bp.delete("/api/carts/<cart_id>/discount")
def remove_discount(cart_id: str):
    with Session.begin() as session:
        view = edits.remove_discount(
            session, cart_id=cart_id, policy=stock_policy(), expected_version=expected_version()
        )
        record_event(session, view, "discount_removed")
    return cart_response(view)
