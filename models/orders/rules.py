"""What staff may do to an order in each status, and how a status reads.

One home for the rules the flows enforce and the admin pages show: the order page reads
them (``web.admin.templating`` hands this module to the templates as ``order_rules``), so a
button is offered exactly when its action would be taken.
"""

from __future__ import annotations

import datetime as dt

from models.orders.status import SHIPPABLE, OrderStatus
from models.orders.tables import ShipmentStatus

# The money was taken and not all of it given back (the refundable remainder decides).
REFUNDABLE = (
    OrderStatus.PAID,
    OrderStatus.PARTIALLY_SHIPPED,
    OrderStatus.SHIPPED,
    OrderStatus.PARTIALLY_REFUNDED,
)


def label(status: str) -> str:
    """A status as a sentence reads it (``partially shipped``)."""
    return status.replace("_", " ")


def may_ship(order_status: str) -> bool:
    """Whether the order's pending shipments (or the order as a whole) may go."""
    return order_status in SHIPPABLE


def may_ship_shipment(order_status: str, shipment_status: str) -> bool:
    """Whether this one shipment may go: it is pending and its order is shippable."""
    return may_ship(order_status) and shipment_status == ShipmentStatus.PENDING


def may_refund(order_status: str, refundable_cents: int) -> bool:
    """Whether a refund may be asked for: a captured order with a remainder left."""
    return order_status in REFUNDABLE and refundable_cents > 0


def may_resend_confirmation(paid_at: dt.datetime | str | None) -> bool:
    """Whether the order has a confirmation to send again: only a paid one has."""
    return paid_at is not None
