"""Opaque pagination cursors, never trusted blindly: base64url of ``|``-joined key parts
(orders), or of a JSON array of typed keys that may hold any text (products)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import uuid

from models.orders.tables import Order
from models.product_search import ProductSort, SortKey
from web.errors import APIError

MAX_SKU_LENGTH = 64
MAX_NAME_LENGTH = 200
MAX_PRICE_CENTS = 2**31 - 1  # products.price_cents is a PostgreSQL integer


def encode(*parts: str) -> str:
    return base64.urlsafe_b64encode("|".join(parts).encode()).decode().rstrip("=")


def _invalid(message: str = "not a cursor this API returned") -> APIError:
    return APIError(
        422,
        "validation_error",
        "The request is invalid.",
        errors=[{"field": "cursor", "message": message}],
    )


def _text(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _invalid() from None


def decode(cursor: str, *, parts: int) -> list[str]:
    """The ``parts`` key parts of a cursor this API returned; 422 for anything else."""
    raw = _text(cursor)
    values = raw.split("|", parts - 1)
    # NUL decodes fine but no key holds one, and PostgreSQL refuses it as a parameter.
    if len(values) != parts or not all(values) or "\x00" in raw:
        raise _invalid()
    return values


def encode_order(order: Order) -> str:
    """Cursor after ``order`` in a listing ordered by (created_at, id)."""
    return encode(order.created_at.isoformat(), str(order.id))


def decode_order(cursor: str) -> tuple[dt.datetime, uuid.UUID]:
    """(created_at, id) of the last order of the previous page."""
    created_at, order_id = decode(cursor, parts=2)
    try:
        return dt.datetime.fromisoformat(created_at), uuid.UUID(order_id)
    except ValueError:
        raise _invalid() from None


def encode_event(received_at: dt.datetime, event_id: str) -> str:
    """Cursor after an inbox event in a listing ordered by (received_at, id)."""
    return encode(received_at.isoformat(), event_id)


def decode_event(cursor: str) -> tuple[dt.datetime, str]:
    received_at, event_id = decode(cursor, parts=2)
    try:
        return dt.datetime.fromisoformat(received_at), event_id
    except ValueError:
        raise _invalid() from None


def encode_product(sort: ProductSort, key: SortKey) -> str:
    """Cursor after the product at ``key`` in a listing in ``sort`` order."""
    return encode(json.dumps([sort.value, *key], ensure_ascii=False, separators=(",", ":")))


def _valid_text(value: object, max_length: int) -> bool:
    return isinstance(value, str) and 0 < len(value) <= max_length and "\x00" not in value


def decode_product(cursor: str, sort: ProductSort) -> SortKey:
    """The (name or price, sku) key a product cursor holds; 422 unless made for ``sort``."""
    try:
        keys = json.loads(_text(cursor))
    except ValueError:
        raise _invalid() from None
    if not isinstance(keys, list) or len(keys) != 3:
        raise _invalid()
    made_for, first, sku = keys
    if made_for != sort.value:
        raise _invalid(f"made for another sort order than {sort.value!r}")
    if sort is ProductSort.NAME:
        valid_first = _valid_text(first, MAX_NAME_LENGTH)
    else:
        # bool is an int to Python, never a price.
        valid_first = type(first) is int and 0 <= first <= MAX_PRICE_CENTS
    if not (valid_first and _valid_text(sku, MAX_SKU_LENGTH)):
        raise _invalid()
    return first, sku
