"""Order statuses, the named sets of them, and the one function that changes a status.

Stripe delivers events out of order, so a status is never simply overwritten: the order
takes whichever of its current and the proposed status ranks higher in ``PRECEDENCE``.
Every status change in the project goes through ``transition``, which also writes the
timeline line, so no path can move an order "backwards" (a late ``succeeded`` cannot
turn a refund back into ``paid``, an expiry cannot cancel a paid order).
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from models.orders.timeline import add_event

if TYPE_CHECKING:
    from models.orders.tables import Order


class OrderStatus(enum.StrEnum):
    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"
    PAYMENT_FAILED = "payment_failed"
    CANCELED = "canceled"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"


# Higher wins. A failure cannot undo a capture, a capture outranks a cancel (the money
# is taken: never lose a paid order), and refunds outrank everything before them.
PRECEDENCE = {
    status: rank
    for rank, status in enumerate(
        (
            OrderStatus.PENDING_PAYMENT,
            OrderStatus.PAYMENT_FAILED,
            OrderStatus.CANCELED,
            OrderStatus.PAID,
            OrderStatus.PARTIALLY_SHIPPED,
            OrderStatus.SHIPPED,
            OrderStatus.PARTIALLY_REFUNDED,
            OrderStatus.REFUNDED,
        )
    )
}

# The money was taken.
CAPTURED = (
    OrderStatus.PAID,
    OrderStatus.PARTIALLY_SHIPPED,
    OrderStatus.SHIPPED,
    OrderStatus.PARTIALLY_REFUNDED,
    OrderStatus.REFUNDED,
)
# Paid and not fully refunded: the goods go out, so stock that could not be confirmed is
# retried and the buyer is owed an order confirmation.
GOODS_OWED = (
    OrderStatus.PAID,
    OrderStatus.PARTIALLY_SHIPPED,
    OrderStatus.SHIPPED,
    OrderStatus.PARTIALLY_REFUNDED,
)
# Shipments go out one by one: an order with some shipped still has others to ship.
SHIPPABLE = (OrderStatus.PAID, OrderStatus.PARTIALLY_SHIPPED)

# Orders whose items count as purchases ("customers also bought").
PURCHASED = (OrderStatus.PAID, OrderStatus.PARTIALLY_SHIPPED, OrderStatus.SHIPPED)


def outranks(proposed: str, current: str) -> bool:
    return PRECEDENCE[OrderStatus(proposed)] > PRECEDENCE[OrderStatus(current)]


def transition(
    session: Session,
    order: Order,
    proposed: OrderStatus,
    *,
    kind: str = "status_changed",
    **data: Any,
) -> bool:
    """Move ``order`` to ``proposed`` if it outranks the current status; returns whether it did.

    The move is written to the timeline as one ``kind`` line (``from``, ``to`` and
    ``data``): ``status_changed`` unless the caller names the action (``shipped``).
    """
    before = order.status
    if not outranks(proposed, before):
        return False
    order.status = proposed
    add_event(session, order, kind, **{"from": before, "to": proposed}, **data)
    return True
