"""Orders awaiting payment are reconciled with their PaymentIntent at Stripe.

The webhooks are never delivered here (no endpoint is registered): Stripe's word comes
only from retrieving the PaymentIntent.
"""

from __future__ import annotations

import datetime as dt
import json

from click.testing import CliRunner
from sqlalchemy import select

from cli import main as cartfleet
from jobs import orders
from jobs.orders import reconcile_payment_intents, release_expired_reservations
from models.base import utcnow
from models.db import Session
from models.infra.outbox import OutboxMessage
from models.orders.tables import Order
from models.orders.timeline import OrderEvent
from models.stock.tables import Reservation, StockLevel
from services import stripe
from tests.support.sandbox_fleet import pay, place_order, status

SOON = dt.timedelta(minutes=1)


def on_hand(sku: str) -> int:
    with Session() as session:
        return session.get(StockLevel, (sku, "main")).on_hand


def holds(order_id) -> list[tuple[str, dt.datetime]]:
    with Session() as session:
        return [
            (r.status, r.expires_at)
            for r in session.scalars(select(Reservation).where(Reservation.order_id == order_id))
        ]


def timeline(order_id) -> list[OrderEvent]:
    with Session() as session:
        return list(
            session.scalars(
                select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)
            )
        )


def queued(actor: str) -> list[list]:
    with Session() as session:
        return [
            row.args
            for row in session.scalars(
                select(OutboxMessage).where(OutboxMessage.actor_name == actor)
            )
        ]


def expire_holds(order_id) -> None:
    """The hold ran out a moment ago."""
    with Session.begin() as session:
        for reservation in session.scalars(
            select(Reservation).where(Reservation.order_id == order_id)
        ):
            reservation.expires_at = utcnow() - dt.timedelta(seconds=1)


def test_a_paid_order_whose_webhook_never_came_is_paid_before_its_hold_ends(sandbox):
    order_id, intent_id = place_order("SKU-A", hold=SOON)
    assert pay(intent_id) == "succeeded"

    changed = reconcile_payment_intents()

    assert changed == 1
    assert status(order_id) == "paid"
    assert [state for state, _ in holds(order_id)] == ["confirmed"]
    assert on_hand("SKU-A") == 9
    lines = {event.kind: event.data for event in timeline(order_id)}
    assert lines["reconciled"]["payment_intent_status"] == "succeeded"
    assert lines["reconciled"]["to"] == "paid"
    assert queued("send_order_email") == [[str(order_id), "order_confirmation"]]

    release_expired_reservations()  # the hold's minute passes: nothing left to release
    assert status(order_id) == "paid" and on_hand("SKU-A") == 9


def test_the_expiry_job_asks_stripe_before_canceling_and_keeps_the_buyer_who_paid(sandbox):
    paid_id, paid_intent = place_order("SKU-A")
    pay(paid_intent)
    unpaid_id, _ = place_order("SKU-B")
    expire_holds(paid_id)
    expire_holds(unpaid_id)

    release_expired_reservations()

    assert status(paid_id) == "paid"
    assert [state for state, _ in holds(paid_id)] == ["confirmed"]
    assert on_hand("SKU-A") == 9
    assert status(unpaid_id) == "canceled"
    assert [state for state, _ in holds(unpaid_id)] == ["released"]
    assert queued("cancel_payment_intent") == [[str(unpaid_id)]]


def test_a_hold_stripe_cannot_be_asked_about_is_kept(sandbox):
    order_id, intent_id = place_order("SKU-A")
    pay(intent_id)
    expire_holds(order_id)
    sandbox.control.fail_next_requests(10)  # Stripe is down (the client retries twice)

    release_expired_reservations()

    assert status(order_id) == "pending_payment"
    [(state, expires_at)] = holds(order_id)
    assert state == "active" and expires_at > utcnow()

    sandbox.control.fail_next_requests(0)  # Stripe is back
    reconcile_payment_intents()  # the kept hold ends soon, so Stripe is asked again
    assert status(order_id) == "paid" and on_hand("SKU-A") == 9


def test_holds_beyond_the_runs_batch_wait_to_be_asked_about(sandbox, monkeypatch):
    monkeypatch.setattr(orders, "RECONCILE_BATCH", 1)
    first_id, first_intent = place_order("SKU-A")
    second_id, second_intent = place_order("SKU-B")
    for order_id, intent_id in ((first_id, first_intent), (second_id, second_intent)):
        pay(intent_id)
        expire_holds(order_id)

    release_expired_reservations()

    assert status(first_id) == "paid"
    assert status(second_id) == "pending_payment"
    [(state, expires_at)] = holds(second_id)
    assert state == "active" and expires_at > utcnow()


def test_stripe_says_canceled_or_failed(sandbox):
    canceled_id, canceled_intent = place_order("SKU-A", hold=SOON)
    stripe.cancel_payment_intent(canceled_intent, order_id=str(canceled_id))
    failed_id, failed_intent = place_order("SKU-B", hold=SOON)
    pay(failed_intent, "pm_card_chargeDeclined")
    waiting_id, _ = place_order("SKU-C", hold=SOON)  # the buyer has not confirmed yet

    reconcile_payment_intents()

    assert status(canceled_id) == "canceled"
    assert [state for state, _ in holds(canceled_id)] == ["released"]
    assert status(failed_id) == "payment_failed"
    assert [state for state, _ in holds(failed_id)] == ["active"]  # the buyer may retry
    assert status(waiting_id) == "pending_payment"
    assert "reconciled" not in [event.kind for event in timeline(waiting_id)]


def test_orders_neither_old_nor_expiring_are_not_asked_about(sandbox):
    place_order("SKU-A")  # created now, held 15 minutes
    sandbox.control.clear_requests()

    assert reconcile_payment_intents() == 0
    assert sandbox.control.requests() == []


def test_an_intent_that_disagrees_with_its_order_is_not_applied(sandbox, alerts):
    order_id, intent_id = place_order("SKU-A", hold=SOON)
    pay(intent_id)
    with Session.begin() as session:
        session.get(Order, order_id).total_cents = 999  # what the intent was not for

    reconcile_payment_intents()

    assert status(order_id) == "pending_payment"
    [refused] = [e for e in timeline(order_id) if e.kind == "payment_event_not_applied"]
    assert refused.data["reason"] == "amount_mismatch"
    assert "Stripe event not applied" in alerts.titles()


def test_cli_reconcile_prints_each_order(sandbox):
    order_id, intent_id = place_order("SKU-A", hold=SOON)
    pay(intent_id)

    result = CliRunner().invoke(cartfleet, ["orders", "reconcile"])

    assert result.exit_code == 0, result.output
    line = json.loads(result.stdout.splitlines()[0])
    assert line == {
        "order_id": str(order_id),
        "stripe_status": "succeeded",
        "from": "pending_payment",
        "to": "paid",
        "not_applied": None,
    }
