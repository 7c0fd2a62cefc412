"""A cart's history for recovery and the funnel: one event per cart version."""

from __future__ import annotations

from sqlalchemy.orm import Session

from models.base import utcnow
from models.carts import events
from models.carts.reads import CartView
from models.carts.tables import Cart


def record_event(
    session: Session,
    cart: Cart | CartView,
    kind: str,
    *,
    sku: str | None = None,
    quantity: int | None = None,
) -> None:
    """Log the write for recovery and the funnel; one event per cart version.

    Appended in the write's transaction: one INSERT costs less, web and worker together,
    than an outbox row, its push to Redis and a job.
    """
    events.append(
        session,
        cart_id=cart.id,
        kind=kind,
        sku=sku,
        quantity=quantity,
        at=utcnow(),
        source_id=f"{cart.id}:{cart.version}",
    )
