"""Paid orders whose confirmation job was lost get it again; nothing else does."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from jobs.email_sweep import resend_lost_confirmations
from models.base import utcnow
from models.db import Session
from models.emails import Email
from models.infra.outbox import OutboxMessage
from tests.support import factories


def paid_order(session, *, paid_minutes_ago: float, status: str = "paid"):
    order = factories.order(session, status=status, lines={"SKU-1": 1})
    order.paid_at = utcnow() - dt.timedelta(minutes=paid_minutes_ago)
    return order


def confirmation(session, order, *, status: str, attempted_minutes_ago: float) -> None:
    session.add(
        Email(
            kind="order_confirmation",
            order_id=order.id,
            recipient=order.email,
            subject="",
            message_id=f"<{order.id}@test>",
            status=status,
            attempts=1,
            last_attempt_at=utcnow() - dt.timedelta(minutes=attempted_minutes_ago),
        )
    )


def queued_confirmations() -> list[str]:
    with Session() as session:
        rows = session.scalars(
            select(OutboxMessage).where(OutboxMessage.actor_name == "send_order_email")
        )
        return sorted(row.args[0] for row in rows if row.args[1] == "order_confirmation")


def test_only_confirmations_whose_job_is_gone_are_sent_again(skus):
    with Session.begin() as session:
        never_ran = paid_order(session, paid_minutes_ago=30)
        shipped_never_ran = paid_order(session, paid_minutes_ago=30, status="shipped")
        retry_lost = paid_order(session, paid_minutes_ago=60)
        confirmation(session, retry_lost, status="pending", attempted_minutes_ago=25)
        retrying = paid_order(session, paid_minutes_ago=60)
        confirmation(session, retrying, status="pending", attempted_minutes_ago=5)
        sent = paid_order(session, paid_minutes_ago=30)
        confirmation(session, sent, status="sent", attempted_minutes_ago=29)
        dead = paid_order(session, paid_minutes_ago=300)
        confirmation(session, dead, status="dead", attempted_minutes_ago=100)
        just_paid = paid_order(session, paid_minutes_ago=1)
        refunded = paid_order(session, paid_minutes_ago=30, status="refunded")
        long_ago = paid_order(session, paid_minutes_ago=60 * 24 * 3)
        factories.order(session, status="pending_payment", lines={"SKU-1": 1})
        expected = sorted(str(o.id) for o in (never_ran, shipped_never_ran, retry_lost))
        left_alone = {str(o.id) for o in (retrying, sent, dead, just_paid, refunded, long_ago)}

    assert resend_lost_confirmations() == 3

    queued = queued_confirmations()
    assert queued == expected
    assert not left_alone & set(queued)


def test_a_confirmation_sent_twice_is_still_one_email(skus, drain_queues, smtp_server):
    with Session.begin() as session:
        order_id = paid_order(session, paid_minutes_ago=30).id

    resend_lost_confirmations()
    resend_lost_confirmations()  # two runs before the first job ran
    drain_queues()

    with Session() as session:
        [row] = session.scalars(select(Email).where(Email.order_id == order_id))
        assert (row.status, row.attempts) == ("sent", 1)
    assert len(smtp_server.messages) == 1
    assert resend_lost_confirmations() == 0
