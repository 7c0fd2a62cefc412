"""Saved for later and bulk edits (API.md "Carts"): each request one cart version.

Every route here is a list of ``models.carts.batch`` operations applied under the cart's
row lock; the saved-item routes are lists of one. The batch route also honours an
``Idempotency-Key``: the first response for a key is stored with the change and a retry
gets it back, whatever the cart's version has become.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Literal

from flask import Blueprint, jsonify, request
from pydantic import Field, StrictInt, StringConstraints, model_validator

from flows.cart_events import record_event
from models.carts import batch, batch_keys
from models.carts.batch import Op, Operation
from models.carts.reads import CartView
from models.carts.tables import MAX_QUANTITY
from models.db import Session
from web.carts import Sku, cart_response, expected_version, stock_policy
from web.errors import APIError
from web.serializers import cart_json
from web.validation import Schema, parse_body

bp = Blueprint("cart_batch", __name__)

MAX_OPERATIONS = 50
IdempotencyKey = Annotated[str, StringConstraints(min_length=1, max_length=255)]


class SaveItem(Schema):
    sku: Sku
    quantity: StrictInt | None = Field(None, ge=1, le=MAX_QUANTITY)


class BatchOperation(Schema):
    op: Literal["set_quantity", "remove", "save_for_later", "move_to_cart"]
    sku: Sku
    quantity: StrictInt | None = Field(None, ge=0, le=MAX_QUANTITY)

    @model_validator(mode="after")
    def _quantity_fits_op(self) -> BatchOperation:
        if self.op == Op.SET_QUANTITY and self.quantity is None:
            raise ValueError("set_quantity needs a quantity.")
        if self.op in (Op.REMOVE, Op.MOVE_TO_CART) and self.quantity is not None:
            raise ValueError(f"{self.op} takes no quantity.")
        if self.op == Op.SAVE_FOR_LATER and self.quantity == 0:
            raise ValueError("save_for_later needs a quantity of at least 1.")
        return self


class Batch(Schema):
    operations: list[BatchOperation] = Field(min_length=1, max_length=MAX_OPERATIONS)


def _write(
    cart_id: str, operations: list[Operation], *, kind: str, sku: str | None = None
) -> CartView:
    with Session.begin() as session:
        view = batch.apply(
            session,
            cart_id=cart_id,
            operations=operations,
            policy=stock_policy(),
            expected_version=expected_version(),
            indexed=False,
        )
        record_event(session, view, kind, sku=sku)
    return view


@bp.post("/api/carts/<cart_id>/saved")
def save_for_later(cart_id: str):
    body = parse_body(SaveItem)
    operation = Operation(Op.SAVE_FOR_LATER, body.sku, body.quantity)
    return cart_response(_write(cart_id, [operation], kind="item_saved", sku=body.sku))


@bp.post("/api/carts/<cart_id>/saved/<sku>/move-to-cart")
def move_to_cart(cart_id: str, sku: str):
    operation = Operation(Op.MOVE_TO_CART, sku)
    return cart_response(_write(cart_id, [operation], kind="item_added", sku=sku))


@bp.delete("/api/carts/<cart_id>/saved/<sku>")
def remove_saved(cart_id: str, sku: str):
    operation = Operation(Op.REMOVE_SAVED, sku)
    return cart_response(_write(cart_id, [operation], kind="saved_removed", sku=sku))


def _idempotency_key() -> str | None:
    raw = request.headers.get("Idempotency-Key")
    if raw is None:
        return None
    key = raw.strip()
    if not key or len(key) > 255 or not key.isascii() or not key.isprintable():
        raise APIError(
            422,
            "validation_error",
            "Idempotency-Key must be 1 to 255 printable ASCII characters.",
            errors=[{"field": "Idempotency-Key", "message": "1 to 255 printable ASCII characters"}],
        )
    return key


def _replayed(stored: batch_keys.Stored, request_hash: str):
    if stored.request_hash != request_hash:
        raise APIError(
            409,
            "idempotency_key_reused",
            "This Idempotency-Key was used for a different batch on this cart.",
        )
    response = jsonify(stored.response)
    response.headers["ETag"] = f'"{stored.response["version"]}"'
    response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.post("/api/carts/<cart_id>/batch")
def apply_batch(cart_id: str):
    body = parse_body(Batch)
    key = _idempotency_key()
    operations = [Operation(Op(item.op), item.sku, item.quantity) for item in body.operations]
    request_hash = hashlib.sha256(
        json.dumps([item.model_dump() for item in body.operations]).encode()
    ).hexdigest()
    with Session.begin() as session:
        if key is not None:
            stored = batch_keys.find(session, cart_id=cart_id, key=key)
            if stored is not None:
                return _replayed(stored, request_hash)
        view = batch.apply(
            session,
            cart_id=cart_id,
            operations=operations,
            policy=stock_policy(),
            expected_version=expected_version(),
        )
        record_event(session, view, "batch_applied")
        document = cart_json(view)
        if key is not None:
            batch_keys.remember(
                session, cart_id=cart_id, key=key, request_hash=request_hash, response=document
            )
    return cart_response(view)
