"""``GET /admin/api/webhooks/health``: counts, failure rate, lag and oldest unprocessed."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update

from models.base import utcnow
from models.db import Session
from models.inbox import WebhookEvent
from tests.support import factories, stripe_events

AUTH = {"Authorization": "Bearer test-admin-token"}


def row(status: str, *, received_ago: dt.timedelta, lag: dt.timedelta | None = None) -> None:
    event = stripe_events.event("payment_intent.succeeded", {"id": "pi_1"})
    received = utcnow() - received_ago
    with Session.begin() as session:
        factories.inbox_event(session, event)
        session.execute(
            update(WebhookEvent)
            .where(WebhookEvent.id == event["id"])
            .values(
                status=status,
                received_at=received,
                processed_at=None if lag is None else received + lag,
            )
        )


def test_health_of_the_last_24_hours(client, broker):
    for seconds in (1, 2, 3, 4):
        row("processed", received_ago=dt.timedelta(hours=1), lag=dt.timedelta(seconds=seconds))
    row("failed", received_ago=dt.timedelta(minutes=10))
    row("dead", received_ago=dt.timedelta(hours=2))
    row("received", received_ago=dt.timedelta(minutes=30))
    row("processed", received_ago=dt.timedelta(days=3), lag=dt.timedelta(hours=1))  # too old

    response = client.get("/admin/api/webhooks/health", headers=AUTH)

    assert response.status_code == 200
    body = response.json
    assert body["counts"] == {
        "received": 1,
        "processed": 4,
        "ignored": 0,
        "failed": 1,
        "dead": 1,
    }
    assert body["total"] == 7
    assert body["failure_rate"] == round(2 / 7, 4)
    assert body["processing_lag_seconds"] == {"p50": 2.5, "p95": 3.85}
    assert 1790 < body["oldest_unprocessed_age_seconds"] < 1830
    assert body["dead_letters"] == 0


def test_health_of_an_empty_inbox(client, broker):
    body = client.get("/admin/api/webhooks/health", headers=AUTH).json
    assert body["total"] == 0 and body["failure_rate"] == 0.0
    assert body["processing_lag_seconds"] == {"p50": None, "p95": None}
    assert body["oldest_unprocessed_age_seconds"] is None
    assert client.get("/admin/api/webhooks/health").status_code == 401


def stored_event(status: str, *, received_ago: dt.timedelta = dt.timedelta(minutes=1)) -> str:
    event = stripe_events.event("payment_intent.succeeded", {"id": "pi_1"})
    with Session.begin() as session:
        factories.inbox_event(session, event, status=status).received_at = utcnow() - received_ago
    return event["id"]


def test_events_are_listed_newest_first_filtered_and_paged(client, broker):
    ids = [stored_event("dead", received_ago=dt.timedelta(minutes=m)) for m in range(53)]
    stored_event("processed")

    first = client.get("/admin/api/webhooks/events?status=dead", headers=AUTH)
    cursor = first.json["next_cursor"]
    rest = client.get(f"/admin/api/webhooks/events?status=dead&cursor={cursor}", headers=AUTH)

    assert first.status_code == rest.status_code == 200
    listed = [item["id"] for item in first.json["items"] + rest.json["items"]]
    assert listed == ids
    assert rest.json["next_cursor"] is None
    assert first.json["items"][0]["status"] == "dead"


def test_an_event_reads_with_its_payload_and_a_bad_filter_is_a_422(client, broker):
    event_id = stored_event("dead")

    detail = client.get(f"/admin/api/webhooks/events/{event_id}", headers=AUTH)
    missing = client.get("/admin/api/webhooks/events/evt_nope", headers=AUTH)
    bad = client.get("/admin/api/webhooks/events?status=lost&from=yesterday", headers=AUTH)

    assert detail.status_code == 200
    assert detail.json["payload"]["id"] == event_id and detail.json["order_id"] is None
    assert (missing.status_code, missing.json["error"]) == (404, "not_found")
    assert bad.status_code == 422
    assert {error["field"] for error in bad.json["errors"]} == {"status", "from"}


def test_replay_one_event_or_every_one_matching(client, broker):
    dead, failed, processed = (
        stored_event("dead"),
        stored_event("failed"),
        stored_event("processed"),
    )

    one = client.post(f"/admin/api/webhooks/events/{dead}/replay", headers=AUTH)
    unknown = client.post("/admin/api/webhooks/events/evt_nope/replay", headers=AUTH)
    matching = client.post("/admin/api/webhooks/replay", json={"status": "failed"}, headers=AUTH)
    everything = client.post("/admin/api/webhooks/replay", json={}, headers=AUTH)

    assert (one.status_code, one.json) == (202, {"replayed": 1, "ids": [dead]})
    assert unknown.status_code == 404
    assert (matching.status_code, matching.json) == (202, {"replayed": 1, "ids": [failed]})
    assert sorted(everything.json["ids"]) == sorted([dead, failed])
    assert processed not in everything.json["ids"]
    assert broker.client.llen("dramatiq:webhooks") == 4
