"""Shipping a paid order."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from models.base import utcnow
from models.errors import InvalidTransition, NotFound
from models.orders.status import SHIPPABLE, OrderStatus, transition
from models.orders.tables import Order


def ship(session: Session, *, order_id: uuid.UUID, carrier: str, tracking_number: str) -> Order:
    """Record the shipment of a paid order; the caller sends the shipping notification.

    Raises ``NotFound``, or ``InvalidTransition`` for an order that is not shippable
    (only ``paid`` is: a shipped order is not shipped twice).
    """
    order = session.get(Order, order_id, with_for_update=True, populate_existing=True)
    if order is None:
        raise NotFound("No such order.")
    if order.status not in SHIPPABLE:
        raise InvalidTransition(
            f"Only a paid order can be shipped; this one is {order.status}.",
            current_status=order.status,
        )
    order.carrier, order.tracking_number, order.shipped_at = carrier, tracking_number, utcnow()
    transition(
        session,
        order,
        OrderStatus.SHIPPED,
        kind="shipped",
        carrier=carrier,
        tracking_number=tracking_number,
        shipped_at=order.shipped_at.isoformat(),
    )
    session.flush()
    return order


def shipment(order: Order) -> dict[str, str] | None:
    """The shipment as the API and the shipping email show it; None before shipping."""
    if order.shipped_at is None:
        return None
    return {
        "carrier": order.carrier,
        "tracking_number": order.tracking_number,
        "shipped_at": order.shipped_at.isoformat(),
    }
