"""Shipping, refunding and resending: the flows the admin API and pages both call."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from flows import order_emails, refunds, shipping
from models.base import utcnow
from models.db import Session
from models.errors import InvalidTransition, NotFound
from models.infra.outbox import OutboxMessage
from models.orders.refunds import Refund
from models.orders.tables import Order
from tests.support import factories


def make_order(status: str = "paid", *, paid: bool = False, **fields) -> uuid.UUID:
    with Session.begin() as session:
        factories.product(session, "TEE-1")
        order = factories.order(session, lines={"TEE-1": 2}, status=status, **fields)
        order.paid_at = utcnow() if paid else None
        return order.id


def jobs_written() -> list[tuple[str, list]]:
    with Session() as session:
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        return [(row.actor_name, row.args) for row in rows]


def test_shipping_commits_the_order_and_writes_its_notification_job(broker):
    order_id = make_order()

    order = shipping.ship(order_id, carrier="UPS", tracking_number="1Z1")

    assert order.status == "shipped"
    with Session() as session:
        assert session.get(Order, order_id).tracking_number == "1Z1"
    assert jobs_written() == [("send_order_email", [str(order_id), "shipping_notification"])]


def test_an_unpaid_order_is_not_shipped_and_nothing_is_sent(broker):
    order_id = make_order("pending_payment")

    with pytest.raises(InvalidTransition):
        shipping.ship(order_id, carrier="UPS", tracking_number="1Z1")

    with Session() as session:
        assert session.get(Order, order_id).status == "pending_payment"
    assert jobs_written() == []


def test_a_refund_is_recorded_pending_with_its_stripe_job(broker):
    order_id = make_order(payment_intent_id="pi_flow")

    refund = refunds.request_refund(
        order_id, amount_cents=500, reason="duplicate", note=None, created_by="ops@example.com"
    )

    with Session() as session:
        row = session.get(Refund, refund.id)
        assert (row.status, row.amount_cents, row.created_by) == (
            "pending",
            500,
            "ops@example.com",
        )
    assert jobs_written() == [("refund_order", [refund.id])]


def test_resending_the_confirmation_writes_a_job_of_a_kind_of_its_own(broker):
    order_id = make_order(paid=True)

    order_emails.resend_confirmation(order_id)
    order_emails.resend_confirmation(order_id)

    [first, second] = jobs_written()
    assert first[0] == second[0] == "send_order_email"
    assert first[1][1].startswith("order_confirmation") and first[1][1] != second[1][1]


def test_no_confirmation_is_resent_for_an_unknown_or_unpaid_order(broker):
    with pytest.raises(NotFound):
        order_emails.resend_confirmation(uuid.uuid4())
    with pytest.raises(InvalidTransition):
        order_emails.resend_confirmation(make_order("pending_payment"))
    assert jobs_written() == []
