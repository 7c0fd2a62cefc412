"""Opaque pagination cursors: base64url of ``|``-joined key parts, never trusted blindly."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid

from models.orders.tables import Order
from web.errors import APIError


def encode(*parts: str) -> str:
    return base64.urlsafe_b64encode("|".join(parts).encode()).decode().rstrip("=")


def _invalid() -> APIError:
    return APIError(
        422,
        "validation_error",
        "The request is invalid.",
        errors=[{"field": "cursor", "message": "not a cursor this API returned"}],
    )


def decode(cursor: str, *, parts: int) -> list[str]:
    """The ``parts`` key parts of a cursor this API returned; 422 for anything else."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _invalid() from None
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
