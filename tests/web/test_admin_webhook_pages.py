"""The webhooks pages: the filtered inbox, an event's detail, replay one or all matching."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from models.audit import AuditEntry
from models.db import Session
from models.inbox import WebhookEvent
from models.orders.timeline import OrderEvent
from tests.support import factories, stripe_events
from tests.web.admin_helpers import logged_in, order_status

TRACEBACK = 'Traceback (most recent call last):\n  File "jobs/stripe_events.py"\nTimeoutError: db'


@pytest.fixture
def dead_event() -> tuple[str, str]:
    """A dead ``payment_intent.succeeded`` of a pending order, and another event processed."""
    with Session.begin() as session:
        factories.product(session, "TEE-1")
        order = factories.order(session, lines={"TEE-1": 1}, payment_intent_id="pi_dead1")
        event = stripe_events.payment_succeeded(order)
        row = factories.inbox_event(session, event, status="dead")
        row.attempts, row.last_error = 3, TRACEBACK
        other = stripe_events.event("charge.succeeded", {"id": "ch_1"})
        factories.inbox_event(session, other, status="processed")
        return event["id"], str(order.id)


def audited(action: str) -> list[str]:
    with Session() as session:
        return list(session.scalars(select(AuditEntry.outcome).where(AuditEntry.action == action)))


def test_a_viewer_filters_the_inbox_and_reads_an_event_without_replay(client, dead_event):
    event_id, order_id = dead_event
    logged_in(client, "viewer")

    dead = client.get("/admin/webhooks?status=dead&type=payment_intent.succeeded&from=2020-01-01")
    every = client.get("/admin/webhooks").get_data(as_text=True)
    detail = client.get(f"/admin/webhooks/{event_id}").get_data(as_text=True)

    assert event_id in dead.get_data(as_text=True) and "charge.succeeded" not in dead.get_data(
        as_text=True
    )
    assert event_id in every and "charge.succeeded" in every and "Replay" not in every
    assert "TimeoutError: db" in detail and f'href="/admin/orders/{order_id}"' in detail
    assert "&#34;pi_dead1&#34;" in detail  # the payload, pretty-printed and escaped
    assert 'id="replay-form"' not in detail
    assert client.get("/admin/webhooks/evt_unknown").status_code == 404
    assert client.get("/admin/webhooks?status=bogus").status_code == 422
    assert client.get("/admin/webhooks?cursor=nope").status_code == 422


def test_the_list_pages_with_a_cursor(client, broker):
    with Session.begin() as session:
        for _ in range(51):
            factories.inbox_event(session, stripe_events.event("charge.succeeded", {"id": "c"}))
    logged_in(client, "viewer")

    first = client.get("/admin/webhooks").get_data(as_text=True)
    next_url = first.split('<a href="/admin/webhooks?cursor=')[1].split('"')[0]
    second = client.get("/admin/webhooks?cursor=" + next_url).get_data(as_text=True)

    assert first.count('href="/admin/webhooks/evt_') == 50
    assert second.count('href="/admin/webhooks/evt_') == 1


def test_a_viewer_may_not_replay(client, dead_event):
    event_id, _ = dead_event
    token = logged_in(client, "viewer")

    one = client.post(f"/admin/webhooks/{event_id}/replay", data={"csrf_token": token})
    every = client.post("/admin/webhooks/replay", data={"csrf_token": token})

    assert one.status_code == 403 and every.status_code == 403
    assert audited("replay_webhook") == ["denied"] and audited("replay_webhooks") == ["denied"]


def test_replay_needs_the_csrf_token(client, dead_event):
    event_id, _ = dead_event
    logged_in(client, "operator")

    response = client.post(f"/admin/webhooks/{event_id}/replay")

    assert response.status_code == 400 and response.json["error"] == "csrf_failed"


def test_an_operator_replays_an_event_and_it_is_applied_once(client, dead_event, drain_queues):
    event_id, order_id = dead_event
    token = logged_in(client, "operator")

    first = client.post(
        f"/admin/webhooks/{event_id}/replay", data={"csrf_token": token}, follow_redirects=True
    )
    drain_queues()
    client.post(f"/admin/webhooks/{event_id}/replay", data={"csrf_token": token})
    drain_queues()

    assert "applied at most once" in first.get_data(as_text=True)
    assert order_status(order_id) == "paid"
    with Session() as session:
        assert session.get(WebhookEvent, event_id).status == "processed"
        status_changes = session.scalar(
            select(func.count())
            .select_from(OrderEvent)
            .where(OrderEvent.order_id == uuid.UUID(order_id), OrderEvent.kind == "status_changed")
        )
    assert status_changes == 1
    assert audited("replay_webhook") == ["ok", "ok"]


def test_replay_all_matching_after_a_confirmation(client, dead_event, broker):
    token = logged_in(client, "operator")

    confirm = client.get("/admin/webhooks/replay?status=dead").get_data(as_text=True)
    done = client.post(
        "/admin/webhooks/replay",
        data={"status": "dead", "csrf_token": token},
        follow_redirects=True,
    )

    assert "Replay 1 event(s)" in confirm and 'name="status" value="dead"' in confirm
    assert "Replaying 1 event(s)" in done.get_data(as_text=True)
    assert broker.client.llen("dramatiq:webhooks") == 1
    assert audited("replay_webhooks") == ["ok"]
