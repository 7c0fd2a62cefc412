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
