"""Idempotency keys of cart batches: the first response for a key, kept with the change.

``find`` locks the cart row first, so two requests with one key take turns and the
second sees the first's stored response instead of applying the batch again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.carts.lifecycle import lock
from models.carts.tables import CartBatchKey


@dataclass(frozen=True)
class Stored:
    request_hash: str
    response: dict[str, Any]


def find(session: Session, *, cart_id: str, key: str) -> Stored | None:
    """The stored response for ``key`` on the cart (locked until the transaction ends)."""
    if lock(session, cart_id) is None:
        return None  # the batch itself answers 404
    row = session.execute(
        select(CartBatchKey.request_hash, CartBatchKey.response).where(
            CartBatchKey.cart_id == cart_id, CartBatchKey.key == key
        )
    ).first()
    return Stored(row.request_hash, row.response) if row else None


def remember(
    session: Session, *, cart_id: str, key: str, request_hash: str, response: dict[str, Any]
) -> None:
    session.add(
        CartBatchKey(cart_id=cart_id, key=key, request_hash=request_hash, response=response)
    )
