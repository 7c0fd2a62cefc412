"""Admin API: the Stripe webhook inbox (health, events filtered and paged) and replays."""

from __future__ import annotations

import datetime as dt
from typing import Any

import redis
from pydantic import ConfigDict, Field, field_validator

from flows import webhook_replay
from models import inbox, inbox_queries
from models.db import Session
from models.inbox import WebhookEvent
from models.inbox_queries import EventFilter
from web import cursors
from web.admin import bp
from web.errors import APIError
from web.validation import Schema, parse_body, parse_query
from worker import dead_letters

WINDOW = dt.timedelta(hours=24)
PAGE = 50


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


class EventQuery(Schema):
    """The inbox filter of the API and the pages: ``?status=&type=&from=&to=&cursor=``."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, populate_by_name=True)

    status: inbox.WebhookStatus | None = None
    type: str | None = Field(None, max_length=128)
    from_: dt.datetime | None = Field(None, alias="from")
    to: dt.datetime | None = None
    cursor: str | None = None

    _aware_times = field_validator("from_", "to")(_aware)

    def where(self) -> EventFilter:
        return EventFilter(status=self.status, type=self.type, since=self.from_, until=self.to)


class ReplayBody(Schema):
    status: inbox.WebhookStatus | None = None
    type: str | None = Field(None, max_length=128)
    since: dt.datetime | None = None

    _aware_since = field_validator("since")(_aware)


def event_json(event: WebhookEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "type": event.type,
        "status": event.status,
        "source": event.source,
        "attempts": event.attempts,
        "error": event.last_error,
        "reason": event.reason,
        "received_at": event.received_at.isoformat(),
        "processed_at": event.processed_at.isoformat() if event.processed_at else None,
    }


@bp.get("/api/webhooks/health")
def webhooks_health():
    """Counts by status (last 24 h), failure rate, lag p50/p95, oldest unprocessed age."""
    with Session() as session:
        report = inbox.health(session, window=WINDOW)
    try:
        report["dead_letters"] = dead_letters.redis_count("webhooks")
    except redis.RedisError:
        report["dead_letters"] = None  # the inbox figures stand without Redis

    return report


@bp.get("/api/webhooks/events")
def webhook_events():
    query = parse_query(EventQuery)
    before = cursors.decode_event(query.cursor) if query.cursor else None
    with Session() as session:
        rows = inbox_queries.search(session, where=query.where(), before=before, limit=PAGE + 1)
        page = rows[:PAGE]
        next_cursor = None
        if len(rows) > PAGE:
            next_cursor = cursors.encode_event(page[-1].received_at, page[-1].id)
        return {"items": [event_json(event) for event in page], "next_cursor": next_cursor}


@bp.get("/api/webhooks/events/<event_id>")
def webhook_event(event_id: str):
    with Session() as session:
        event = session.get(WebhookEvent, event_id)
        if event is None:
            raise APIError(404, "not_found", f"No webhook event {event_id}.")
        order_id = inbox_queries.touched_order_id(session, event)
        return {
            **event_json(event),
            "payload": event.payload,
            "order_id": str(order_id) if order_id else None,
        }


@bp.post("/api/webhooks/events/<event_id>/replay")
def replay_webhook_event(event_id: str):
    with Session.begin() as session:
        replayed = webhook_replay.replay(session, ids=[event_id])
    if not replayed:
        raise APIError(
            404, "not_found", f"No replayable webhook event {event_id} (unknown, or refused)."
        )
    return {"replayed": 1, "ids": replayed}, 202


@bp.post("/api/webhooks/replay")
def replay_webhook_events():
    body = parse_body(ReplayBody)
    where = EventFilter(status=body.status, type=body.type, since=body.since)
    with Session.begin() as session:
        replayed = webhook_replay.replay_matching(session, where=where)
    return {"replayed": len(replayed), "ids": replayed}, 202


__all__ = ["EventQuery", "bp"]
