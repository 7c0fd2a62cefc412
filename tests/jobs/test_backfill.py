"""Stripe events the webhook never delivered are recovered from the Events API, once."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from cli import main as cartfleet
from jobs import backfill
from models.base import utcnow
from models.db import Session
from models.inbox import WebhookEvent
from models.infra import backfill_cursors
from models.orders.timeline import OrderEvent
from models.stock.tables import StockLevel
from services import stripe
from tests.support import stripe_events
from tests.support.sandbox_fleet import pay, place_order, status

NEVER_DELIVERED = "Stripe events found by backfill that the webhook never delivered"


@pytest.fixture
def found_at_once(monkeypatch):
    """Count every event backfill finds as undelivered, however young (no wait in tests)."""
    monkeypatch.setattr(backfill, "UNDELIVERED_AFTER", dt.timedelta(0))


def inbox_rows() -> list[WebhookEvent]:
    with Session() as session:
        return list(session.scalars(select(WebhookEvent).order_by(WebhookEvent.id)))


def kinds(order_id, kind: str) -> int:
    with Session() as session:
        return session.scalar(
            select(func.count())
            .select_from(OrderEvent)
            .where(OrderEvent.order_id == order_id, OrderEvent.kind == kind)
        )


def on_hand(sku: str) -> int:
    with Session() as session:
        return session.get(StockLevel, (sku, "main")).on_hand


def test_an_outage_that_drops_every_webhook_loses_nothing(
    webhooks_to_fleet, pipeline, alerts, found_at_once
):
    # Given: the endpoint fails for the whole outage; Stripe gives up on every delivery.
    control = webhooks_to_fleet
    control.set_switches(drop=True)
    paid = [place_order(f"SKU-{i}") for i in range(3)]
    for _, intent_id in paid:
        assert pay(intent_id) == "succeeded"
    declined_order, declined_intent = place_order("SKU-D")
    pay(declined_intent, "pm_card_chargeDeclined")
    canceled_order, canceled_intent = place_order("SKU-C")
    stripe.cancel_payment_intent(canceled_intent, order_id=str(canceled_order))
    control.wait_for_deliveries()
    control.set_switches(drop=False)  # delivery resumes; the dropped events never come
    assert inbox_rows() == []

    # When: the backfill runs (nothing else).
    report = backfill.run()
    pipeline()

    # Then: every order is where Stripe says it is, and the operator was told.
    assert [status(order_id) for order_id, _ in paid] == ["paid"] * 3
    assert [on_hand(f"SKU-{i}") for i in range(3)] == [9, 9, 9]
    assert status(declined_order) == "payment_failed"
    assert status(canceled_order) == "canceled"
    rows = inbox_rows()
    assert {row.source for row in rows} == {"backfill"}
    assert {row.status for row in rows} == {"processed"}
    assert report.stored == {
        "payment_intent.succeeded": 3,
        "payment_intent.payment_failed": 1,
        "payment_intent.canceled": 1,
    }
    assert NEVER_DELIVERED in alerts.titles()
    assert (
        REGISTRY.get_sample_value(
            "stripe_events_backfilled_total", {"type": "payment_intent.succeeded"}
        )
        >= 3
    )

    # And a second run finds nothing new.
    assert backfill.run().stored == {}


def test_events_stripe_gave_up_on_after_its_three_days_are_recovered(webhooks_to_fleet, pipeline):
    control = webhooks_to_fleet
    control.pause()  # the endpoint is down longer than Stripe retries
    order_id, intent_id = place_order("SKU-A")
    pay(intent_id)
    control.advance_clock(4 * 86400)
    control.resume()
    deliveries = control.wait_for_deliveries()
    assert {(d["status"], d.get("gave_up")) for d in deliveries} == {
        ("failed", "older than the retry window")
    }

    backfill.run()
    pipeline()

    assert status(order_id) == "paid"


def test_webhooks_arriving_after_the_backfill_have_no_second_effect(webhooks_to_fleet, pipeline):
    control = webhooks_to_fleet
    control.pause()  # the endpoint is unreachable: deliveries wait
    order_id, intent_id = place_order("SKU-A")
    pay(intent_id)
    backfill.run()
    pipeline()
    assert status(order_id) == "paid"

    control.resume()
    control.wait_for_deliveries()
    pipeline()

    assert status(order_id) == "paid"
    assert kinds(order_id, "payment_succeeded") == 1
    assert kinds(order_id, "reservations_confirmed") == 1
    assert on_hand("SKU-A") == 9
    handled = [row for row in inbox_rows() if row.type in backfill.TYPES]
    assert [(row.source, row.status) for row in handled] == [("backfill", "processed")]


def test_events_the_webhook_delivered_are_not_backfilled(webhooks_to_fleet, pipeline, alerts):
    order_id, intent_id = place_order("SKU-A")
    pay(intent_id)
    webhooks_to_fleet.wait_for_deliveries()
    pipeline()
    assert status(order_id) == "paid"

    report = backfill.run()

    assert report.listed == 1 and report.stored == {}
    assert {row.source for row in inbox_rows()} == {"webhook"}  # handled or not
    assert alerts.titles() == []


def test_the_cursor_moves_forward_and_the_next_run_starts_from_it(sandbox, pipeline):
    _, intent_id = place_order("SKU-A")
    pay(intent_id)

    first = backfill.run()
    with Session() as session:
        position = backfill_cursors.position(session)
    second = backfill.run()

    assert position is not None and position > utcnow() - dt.timedelta(minutes=1)
    assert dt.datetime.fromisoformat(second.since) == position - dt.timedelta(minutes=10)
    assert second.stored == {} and second.listed == first.listed
    assert second.api_calls == 2  # the cursor's window, and the undelivered sweep before it
    assert 0 <= second.cursor_age_seconds < 60
    assert REGISTRY.get_sample_value("stripe_backfill_cursor_age_seconds") < 60


def test_a_cursor_older_than_25_days_is_alerted(sandbox, alerts):
    with Session.begin() as session:
        backfill_cursors.advance(session, to=utcnow() - dt.timedelta(days=26), event_id=None)

    report = backfill.run()

    assert "Stripe backfill cursor is older than 25 days" in alerts.titles()
    assert report.cursor_age_seconds < 25 * 86400  # caught up: the cursor moved to now


def test_only_handled_types_are_listed(sandbox):
    place_order("SKU-A")  # payment_intent.created: not a type the fleet handles

    report = backfill.run()

    assert report.listed == 0
    listed = [r for r in sandbox.control.requests() if r["path"] == "/v1/events"]
    assert listed and all(sorted(r["params"]["types"]) == sorted(backfill.TYPES) for r in listed)


def test_cli_backfill_since_prints_what_it_did(sandbox, pipeline):
    order_id, intent_id = place_order("SKU-A")
    pay(intent_id)

    result = CliRunner().invoke(cartfleet, ["webhooks", "backfill", "--since", "3d"])
    pipeline()

    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["stored"] == {"payment_intent.succeeded": 1}
    assert status(order_id) == "paid"


def test_a_stored_event_is_the_webhooks_event(sandbox, client, pipeline):
    # The same event id from either path is one inbox row.
    _, intent_id = place_order("SKU-A")
    pay(intent_id)
    backfill.run()
    event = next(
        iter(
            stripe.list_events(created_gte=0, created_lt=2**31, types=["payment_intent.succeeded"])
        )
    )

    response = stripe_events.post(client, event)

    assert response.json == {"received": True, "duplicate": True}
