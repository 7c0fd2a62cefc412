"""``refund_order``: a refund Stripe refuses outright ends ``failed`` and changes nothing."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from jobs.payments import refund_order
from models.db import Session
from models.orders import refunds
from models.orders.tables import Order
from models.orders.timeline import OrderEvent
from services.stripe import stripe_client
from tests.web.admin_helpers import fleet_sandbox, order_status, paid_order


def test_a_refund_stripe_refuses_is_marked_failed(live_server, worker):
    with fleet_sandbox(live_server) as sandbox:
        order_id = paid_order(sandbox)
        with Session.begin() as session:
            refund = refunds.request_refund(
                session,
                order_id=uuid.UUID(order_id),
                amount_cents=2000,
                reason="duplicate",
                note=None,
                created_by="ops@example.com",
            )
            refund_id, intent = refund.id, session.get(Order, uuid.UUID(order_id)).payment_intent_id
        sandbox.control.pause()  # the dashboard refund's webhooks have not arrived yet
        stripe_client().v1.refunds.create(params={"payment_intent": intent})

        refund_order(refund_id)  # Stripe: the charge is already refunded

    with Session() as session:
        row = session.get(refunds.Refund, refund_id)
        kinds = session.scalars(
            select(OrderEvent.kind).where(OrderEvent.order_id == uuid.UUID(order_id))
        ).all()
    assert row.status == "failed" and "already been refunded" in row.failure_reason
    assert "refund_failed" in kinds
    assert order_status(order_id) == "paid"
    refund_order(refund_id)  # a rerun does nothing
