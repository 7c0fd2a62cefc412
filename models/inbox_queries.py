"""Reads of the webhook inbox for the admin: a filtered, keyset-paged list, hourly counts,
the order an event touched. The inbox's own operations stay in ``models.inbox``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Select, select, text, tuple_
from sqlalchemy.orm import Session

from models.inbox import WebhookEvent
from models.orders.tables import Order


@dataclasses.dataclass(frozen=True)
class EventFilter:
    """Events by status, type and receipt time (``until`` exclusive); any may be None."""

    status: str | None = None
    type: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None

    def where(self, statement: Select[Any]) -> Select[Any]:
        if self.status:
            statement = statement.where(WebhookEvent.status == self.status)
        if self.type:
            statement = statement.where(WebhookEvent.type == self.type)
        if self.since:
            statement = statement.where(WebhookEvent.received_at >= self.since)
        if self.until:
            statement = statement.where(WebhookEvent.received_at < self.until)
        return statement


def search(
    session: Session,
    *,
    where: EventFilter,
    before: tuple[dt.datetime, str] | None = None,
    limit: int = 50,
) -> list[WebhookEvent]:
    """Matching events, newest first, after the keyset ``before`` (received_at, id)."""
    statement = where.where(select(WebhookEvent))
    if before is not None:
        statement = statement.where(
            tuple_(WebhookEvent.received_at, WebhookEvent.id) < tuple_(*before)
        )
    statement = statement.order_by(WebhookEvent.received_at.desc(), WebhookEvent.id.desc())
    return list(session.scalars(statement.limit(limit)))


def replayable_ids(session: Session, *, where: EventFilter, limit: int = 10_000) -> list[str]:
    """Matching events the processor may take again: not processed, not refused for a reason."""
    statement = where.where(select(WebhookEvent.id)).where(
        WebhookEvent.status.in_(("received", "failed", "dead")), WebhookEvent.reason.is_(None)
    )
    return list(session.scalars(statement.order_by(WebhookEvent.received_at).limit(limit)))


_PER_HOUR = text("""
SELECT hour, count(e.id) AS events,
       count(e.id) FILTER (WHERE e.status IN ('failed', 'dead')) AS failing
FROM generate_series(
    date_trunc('hour', CAST(:now AS timestamptz)) - make_interval(hours => :hours - 1),
    date_trunc('hour', CAST(:now AS timestamptz)),
    interval '1 hour'
) AS hour
LEFT JOIN webhook_events e ON e.received_at >= hour AND e.received_at < hour + interval '1 hour'
GROUP BY hour
ORDER BY hour
""")


def per_hour(
    session: Session, *, now: dt.datetime, hours: int = 24
) -> list[tuple[dt.datetime, int, int]]:
    """Per hour of the last ``hours`` (current last): events received, and those failing."""
    rows = session.execute(_PER_HOUR, {"now": now, "hours": hours})
    return [(row.hour, row.events, row.failing) for row in rows]


def touched_order_id(session: Session, event: WebhookEvent) -> uuid.UUID | None:
    """The order the event concerns: its checked order, our metadata, or its PaymentIntent."""
    if event.order_id is not None:
        return event.order_id
    payload_object = (event.payload.get("data") or {}).get("object") or {}
    metadata = payload_object.get("metadata") or {}
    try:
        order_id = uuid.UUID(str(metadata["order_id"]))
    except (KeyError, ValueError):
        pass
    else:
        return session.scalar(select(Order.id).where(Order.id == order_id))
    intent = payload_object.get("payment_intent") or payload_object.get("id")
    if not isinstance(intent, str) or not intent.startswith("pi_"):
        return None
    return session.scalar(select(Order.id).where(Order.payment_intent_id == intent).limit(1))
