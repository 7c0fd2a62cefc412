"""A cart's history for recovery and the funnel: one event per cart version, in the write's
transaction."""

from __future__ import annotations

from sqlalchemy.orm import Session

from jobs.carts import record_cart_event
from models.base import utcnow
from models.carts.reads import CartView
from models.carts.tables import Cart
from services import outbox


def record_event(
    session: Session,
    cart: Cart | CartView,
    kind: str,
    *,
    sku: str | None = None,
    quantity: int | None = None,
) -> None:
    """Log the write for recovery and the funnel; one event per cart version."""
    outbox.enqueue(
        session,
        record_cart_event,
        cart.id,
        kind,
        sku,
        quantity,
        utcnow().isoformat(),
        f"{cart.id}:{cart.version}",
    )
