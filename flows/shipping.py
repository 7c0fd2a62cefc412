"""Shipping an order (all its pending shipments, or one) and its shipping notifications.

Each notification is a job written to the outbox in the shipping transaction, so it is
sent once the shipment is committed, and only then.
"""

from __future__ import annotations

import uuid

from jobs.email import send_order_email
from jobs.email_kinds import shipment_email_kind
from models.db import Session
from models.orders import fulfilment
from models.orders.tables import Order
from services import outbox


def ship(order_id: uuid.UUID, *, carrier: str, tracking_number: str) -> Order:
    """Every pending shipment goes; a shipping notification per shipment.

    An order without recorded shipments ships as a whole, with one notification. Raises
    ``NotFound`` or ``InvalidTransition`` (not paid, already shipped) with nothing changed.
    """
    with Session.begin() as session:
        order, shipped = fulfilment.ship(
            session, order_id=order_id, carrier=carrier, tracking_number=tracking_number
        )
        kinds = [shipment_email_kind(s.id) for s in shipped] or ["shipping_notification"]
        for kind in kinds:
            outbox.enqueue(session, send_order_email, str(order.id), kind)
    return order


def ship_shipment(
    order_id: uuid.UUID, shipment_id: int, *, carrier: str, tracking_number: str
) -> Order:
    """One shipment goes (the order is ``partially_shipped`` until the last); its email."""
    with Session.begin() as session:
        order, shipment = fulfilment.ship_shipment(
            session,
            order_id=order_id,
            shipment_id=shipment_id,
            carrier=carrier,
            tracking_number=tracking_number,
        )
        outbox.enqueue(session, send_order_email, str(order.id), shipment_email_kind(shipment.id))
    return order
