"""The cart event log (``cart_events``): what happened to a cart, for recovery and the funnel."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from models.carts.tables import Cart, CartEvent

_COLUMNS = CartEvent.__table__.c
# Core on the tables (not the ORM's bulk path), built once: a statement object memoises
# its cache key, so each append is one execution and no statement construction (this
# runs on every cart write).
_APPEND = (
    insert(CartEvent.__table__)
    .from_select(
        ["cart_id", "kind", "sku", "quantity", "at", "source_id"],
        select(
            Cart.__table__.c.id,
            bindparam("kind", type_=_COLUMNS.kind.type),
            bindparam("sku", type_=_COLUMNS.sku.type),
            bindparam("quantity", type_=_COLUMNS.quantity.type),
            bindparam("at", type_=_COLUMNS.at.type),
            bindparam("source_id", type_=_COLUMNS.source_id.type),
        ).where(Cart.__table__.c.id == bindparam("cart_id")),
    )
    .on_conflict_do_nothing(index_elements=[_COLUMNS.source_id])
)


def append(
    session: Session,
    *,
    cart_id: str,
    kind: str,
    sku: str | None = None,
    quantity: int | None = None,
    at: dt.datetime,
    source_id: str,
) -> None:
    """Append one event. ``source_id`` (``"<cart id>:<version>"``) makes a repeat a no-op;
    an event for a cart that is gone (purged) is skipped."""
    session.execute(
        _APPEND,
        {
            "cart_id": cart_id,
            "kind": kind,
            "sku": sku,
            "quantity": quantity,
            "at": at,
            "source_id": source_id,
        },
    )
