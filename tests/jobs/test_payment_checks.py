"""An event that disagrees with its order is never applied: recorded, listed, alerted."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from jobs.stripe_events import process_stripe_event, sweep_stuck_webhooks
from models import inbox
from models.carts.tables import Cart
from models.db import Session
from models.inbox import WebhookEvent
from models.infra.outbox import OutboxMessage
from models.orders.tables import Order
from models.orders.timeline import OrderEvent
from models.stock.tables import StockLevel
from services.settings import get_settings
from tests.support import stripe_events

AUTH = {"Authorization": "Bearer test-admin-token"}


def new_order(**options) -> Order:
    with Session.begin() as session:
        return stripe_events.checkout(session, **options)


def deliver(client, event) -> None:
    response = stripe_events.post(client, event)
    assert response.status_code == 200, response.json


def succeeded(order, **changes) -> dict:
    return stripe_events.event(
        "payment_intent.succeeded", {**stripe_events.intent(order, status="succeeded"), **changes}
    )


def row(event_id: str) -> WebhookEvent:
    with Session() as session:
        return session.get(WebhookEvent, event_id)


def timeline(order_id) -> list[str]:
    with Session() as session:
        return list(
            session.scalars(
                select(OrderEvent.kind)
                .where(OrderEvent.order_id == order_id)
                .order_by(OrderEvent.id)
            )
        )


def on_hand() -> int:
    with Session() as session:
        return session.get(StockLevel, ("SKU-A", "main")).on_hand


def email_jobs() -> int:
    with Session() as session:
        return session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.actor_name == "send_order_email")
        )


def test_a_made_up_intent_does_not_pay_a_canceled_order(client, pipeline, alerts):
    # The reported bug: this turned the order paid, took its stock and emailed the buyer.
    order = new_order(lines={"SKU-A": 2})
    deliver(client, stripe_events.payment_canceled(order))
    pipeline()
    forged = succeeded(order, id="pi_madeup0000000000000001")

    deliver(client, forged)
    pipeline()

    with Session() as session:
        assert session.get(Order, order.id).status == "canceled"
        assert session.get(Cart, order.cart_id).status == "active"
    assert on_hand() == 10
    assert email_jobs() == 0
    refused = row(forged["id"])
    assert (refused.status, refused.reason, refused.order_id) == (
        "failed",
        "payment_intent_mismatch",
        order.id,
    )
    assert "pi_madeup0000000000000001" in refused.last_error
    assert timeline(order.id)[-1] == "payment_event_not_applied"
    assert "Stripe event not applied" in alerts.titles()

    # Final: neither the sweep nor a second delivery of the job applies it.
    sweep_stuck_webhooks()
    process_stripe_event(forged["id"])
    assert row(forged["id"]).attempts == 1
    with Session() as session:
        assert session.get(Order, order.id).status == "canceled"

    listed = client.get("/admin/api/reconciliation", headers=AUTH).json["events_not_applied"]
    assert [(e["event_id"], e["reason"], e["order_id"]) for e in listed] == [
        (forged["id"], "payment_intent_mismatch", str(order.id))
    ]


def _another_orders_intent(order):
    other = new_order(lines={"SKU-A": 1})
    return succeeded(order, id=other.payment_intent_id)


@pytest.mark.parametrize(
    ("make_event", "reason"),
    [
        (lambda o: succeeded(o, id="pi_madeup0000000000000002"), "payment_intent_mismatch"),
        (_another_orders_intent, "payment_intent_mismatch"),
        (lambda o: succeeded(o, amount_received=1), "amount_mismatch"),
        (lambda o: succeeded(o, amount=1, amount_received=1), "amount_mismatch"),
        (lambda o: succeeded(o, currency="eur"), "currency_mismatch"),
    ],
    ids=["made_up_intent", "other_orders_intent", "amount_received", "amount", "currency"],
)
def test_a_mismatched_payment_is_not_applied(client, pipeline, alerts, make_event, reason):
    order = new_order(lines={"SKU-A": 2})
    event = make_event(order)

    deliver(client, event)
    pipeline()

    with Session() as session:
        assert session.get(Order, order.id).status == "pending_payment"
    assert on_hand() == 10
    assert (row(event["id"]).status, row(event["id"]).reason) == ("failed", reason)
    assert "payment_event_not_applied" in timeline(order.id)
    assert "Stripe event not applied" in alerts.titles()


@pytest.mark.parametrize(
    ("refunds", "reason"),
    [
        ([lambda o: stripe_events.charge_refunded(o, amount_refunded=2001)], "amount_mismatch"),
        (
            [
                lambda o: stripe_events.refund_updated(o, amount=1500),
                lambda o: stripe_events.refund_updated(o, amount=600),
            ],
            "amount_mismatch",
        ),
        ([lambda o: stripe_events.charge_refunded(o, amount_refunded=500)], None),
    ],
    ids=["charge_over_total", "refunds_add_up_over_total", "within_total"],
)
def test_refunds_add_up_to_at_most_the_captured_amount(client, pipeline, alerts, refunds, reason):
    order = new_order(lines={"SKU-A": 2})  # total 2000
    deliver(client, stripe_events.payment_succeeded(order, created=1_000))
    pipeline()
    events = [make(order) for make in refunds]

    for event in events:
        deliver(client, event)
        pipeline()

    last = row(events[-1]["id"])
    assert last.reason == reason
    assert last.status == ("failed" if reason else "processed")
    with Session() as session:
        refunded = session.get(Order, order.id).refunded_cents
    assert refunded <= 2000
    assert ("Stripe event not applied" in alerts.titles()) == (reason is not None)


def test_a_refund_in_another_currency_is_not_applied(client, pipeline):
    order = new_order(lines={"SKU-A": 2})
    deliver(client, stripe_events.payment_succeeded(order))
    pipeline()
    event = stripe_events.charge_refunded(order)
    event["data"]["object"]["currency"] = "eur"

    deliver(client, event)
    pipeline()

    assert row(event["id"]).reason == "currency_mismatch"
    with Session() as session:
        assert session.get(Order, order.id).status == "paid"


def test_a_refused_event_is_not_replayed(client, pipeline):
    order = new_order()
    event = succeeded(order, currency="eur")
    deliver(client, event)
    pipeline()

    with Session() as session:
        assert inbox.replay_ids(session, statuses=("failed",)) == []
        assert inbox.replay_ids(session, ids=(event["id"],)) == []


def test_a_test_mode_event_is_ignored_under_a_live_key(client, monkeypatch):
    monkeypatch.setenv("STRIPE_API_KEY", "sk_live_cartfleet")
    get_settings.cache_clear()
    order = new_order()
    event = stripe_events.payment_succeeded(order)  # livemode false

    try:
        stripe_events.post(client, event)
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()

    assert (row(event["id"]).status, row(event["id"]).reason) == ("ignored", "livemode_mismatch")


def test_an_event_of_the_other_stripe_mode_is_stored_ignored_with_the_reason(client):
    order = new_order()
    live = {**stripe_events.payment_succeeded(order), "livemode": True}  # our key is sk_test_

    response = stripe_events.post(client, live)

    assert response.json == {"received": True, "duplicate": False}
    assert (row(live["id"]).status, row(live["id"]).reason) == ("ignored", "livemode_mismatch")
    with Session() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
