"""Cart actors: the event log that abandoned-cart recovery and funnel analytics read."""

from __future__ import annotations

import datetime as dt

import dramatiq
from sqlalchemy import exists, literal, select
from sqlalchemy.dialects.postgresql import insert

from models.carts import Cart, CartEvent
from models.db import Session


@dramatiq.actor(
    actor_name="record_cart_event",
    queue_name="carts",
    max_retries=10,
    min_backoff=1_000,
    max_backoff=300_000,
    time_limit=30_000,
)
def record_cart_event(
    cart_id: str,
    kind: str,
    sku: str | None,
    quantity: int | None,
    at: str,
    source_id: str,
) -> None:
    """Append one cart event; ``source_id`` makes a redelivery a no-op.

    A cart purged before the event lands is skipped rather than retried forever.
    """
    row = {
        "cart_id": cart_id,
        "kind": kind,
        "sku": sku,
        "quantity": quantity,
        "at": dt.datetime.fromisoformat(at),
        "source_id": source_id,
    }
    columns = CartEvent.__table__.c
    values = select(*(literal(value, columns[name].type) for name, value in row.items())).where(
        exists().where(Cart.id == cart_id)
    )
    statement = (
        insert(CartEvent)
        .from_select(list(row), values)
        .on_conflict_do_nothing(index_elements=[CartEvent.source_id])
    )
    with Session.begin() as session:
        session.execute(statement)
