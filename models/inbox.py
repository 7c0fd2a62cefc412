"""The Stripe webhook inbox: one row per Stripe event id, the source of exactly-once."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Connection,
    Index,
    Insert,
    String,
    bindparam,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base, created_at, quoted, utcnow
from models.outbox import insert_row

WEBHOOK_STATUSES = ("received", "processed", "ignored", "failed", "dead")


class WebhookEvent(Base):
    __tablename__ = "webhook_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(128))
    api_version: Mapped[str | None] = mapped_column(String(32))
    livemode: Mapped[bool] = mapped_column(default=False)
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default="received")
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None]
    received_at: Mapped[dt.datetime] = created_at()
    processed_at: Mapped[dt.datetime | None]

    __table_args__ = (
        CheckConstraint(f"status IN ({quoted(WEBHOOK_STATUSES)})", name="status_known"),
        Index("ix_webhook_events_status_received_at", "status", "received_at"),
    )


# --- Inbox operations ----------------------------------------------------------------------

FINAL_STATUSES = ("processed", "ignored")
ERROR_LIMIT = 8_000  # characters of traceback kept on the row


_TABLE = WebhookEvent.__table__


def _insert_event(status: str) -> Insert:
    return (
        insert(_TABLE)
        .values(
            id=bindparam("id"),
            type=bindparam("type"),
            api_version=bindparam("api_version"),
            livemode=bindparam("livemode"),
            payload=bindparam("payload", type_=_TABLE.c.payload.type),
            status=status,
            attempts=0,
            processed_at=None if status == "received" else func.now(),
        )
        .on_conflict_do_nothing(index_elements=[_TABLE.c.id])
        .returning(_TABLE.c.id)
    )


# One statement each, so an autocommit connection stores an event in one round trip.
_STORE_IGNORED = _insert_event("ignored")
_STORE_WITH_JOB = insert_row(when=_insert_event("received").cte("stored"))


def _event_params(event: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": event["id"],
        "type": event["type"],
        "api_version": event.get("api_version"),
        "livemode": bool(event.get("livemode", False)),
        "payload": event,
    }


def store_with_job(
    connection: Connection, *, event: dict[str, Any], job: dict[str, Any]
) -> int | None:
    """Insert a verified Stripe event ``received`` and its job's outbox row, atomically.

    ``job`` holds the outbox row's columns (``worker.outbox.row``). Both rows are written
    by one statement, so nothing else is needed for atomicity. Returns the outbox row id,
    or None when the event id is already stored (then nothing is written).
    """
    params = {**_event_params(event), **job}
    return connection.execute(_STORE_WITH_JOB, params).scalar_one_or_none()


def store_ignored(connection: Connection, *, event: dict[str, Any]) -> bool:
    """Insert an event of a type with no handler, already ``ignored``; False if a duplicate.

    The inbox keeps every delivery even when no work is queued for it.
    """
    return connection.execute(_STORE_IGNORED, _event_params(event)).first() is not None


def lock(session: Session, event_id: str) -> WebhookEvent | None:
    """The inbox row, locked until the caller's transaction ends (one processor at a time)."""
    return session.get(WebhookEvent, event_id, with_for_update=True, populate_existing=True)


def mark_done(session: Session, *, event: WebhookEvent, status: str = "processed") -> None:
    """Record the outcome in the transaction that applied the effect."""
    event.status = status
    event.attempts += 1
    event.processed_at = utcnow()
    event.last_error = None if status == "processed" else event.last_error


def record_failure(session: Session, *, event_id: str, error: str) -> None:
    """Count a failed attempt (in a transaction of its own: the effect's rolled back)."""
    session.execute(
        update(WebhookEvent)
        .where(WebhookEvent.id == event_id, WebhookEvent.status.not_in(FINAL_STATUSES))
        .values(
            status="failed", attempts=WebhookEvent.attempts + 1, last_error=error[-ERROR_LIMIT:]
        )
    )


def mark_dead(session: Session, *, event_id: str, error: str | None) -> WebhookEvent | None:
    """Retries ran out: the row becomes ``dead`` unless a later attempt got it processed."""
    event = lock(session, event_id)
    if event is None or event.status in FINAL_STATUSES:
        return None
    event.status = "dead"
    if error:
        event.last_error = error[-ERROR_LIMIT:]
    return event


def stuck_ids(session: Session, *, older_than: dt.timedelta, limit: int) -> list[str]:
    """Ids still ``received`` after ``older_than``, locked (rows being processed are skipped)."""
    return list(
        session.scalars(
            select(WebhookEvent.id)
            .where(
                WebhookEvent.status == "received",
                WebhookEvent.received_at < utcnow() - older_than,
            )
            .order_by(WebhookEvent.received_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


def replay_ids(
    session: Session,
    *,
    statuses: tuple[str, ...] = ("dead",),
    since: dt.datetime | None = None,
    ids: tuple[str, ...] = (),
    limit: int = 10_000,
) -> list[str]:
    """Ids to hand to the processor again: by id, else by status and receipt time."""
    conditions = [WebhookEvent.id.in_(ids) if ids else WebhookEvent.status.in_(statuses)]
    if since is not None:
        conditions.append(WebhookEvent.received_at >= since)
    return list(
        session.scalars(
            select(WebhookEvent.id)
            .where(*conditions)
            .order_by(WebhookEvent.received_at)
            .limit(limit)
        )
    )


def counts_by_status(session: Session, *, since: dt.datetime | None = None) -> dict[str, int]:
    """Rows per status (every status present, zero when none), optionally since a time."""
    query = select(WebhookEvent.status, func.count()).group_by(WebhookEvent.status)
    if since is not None:
        query = query.where(WebhookEvent.received_at >= since)
    found = dict(session.execute(query).all())
    return {status: int(found.get(status, 0)) for status in WEBHOOK_STATUSES}


def health(session: Session, *, window: dt.timedelta) -> dict[str, Any]:
    """Counts, failure rate, processing lag percentiles and oldest unprocessed age."""
    since = utcnow() - window
    counts = counts_by_status(session, since=since)
    lag = func.extract("epoch", WebhookEvent.processed_at - WebhookEvent.received_at)
    p50, p95 = session.execute(
        select(
            func.percentile_cont(0.5).within_group(lag),
            func.percentile_cont(0.95).within_group(lag),
        ).where(WebhookEvent.status == "processed", WebhookEvent.received_at >= since)
    ).one()
    oldest = session.scalar(
        select(func.min(WebhookEvent.received_at)).where(
            WebhookEvent.status.in_(("received", "failed"))
        )
    )
    total = sum(counts.values())
    failing = counts["failed"] + counts["dead"]
    return {
        "window_hours": window.total_seconds() / 3600,
        "counts": counts,
        "total": total,
        "failure_rate": round(failing / total, 4) if total else 0.0,
        "processing_lag_seconds": {
            "p50": None if p50 is None else round(float(p50), 3),
            "p95": None if p95 is None else round(float(p95), 3),
        },
        "oldest_unprocessed_age_seconds": (
            None if oldest is None else round((utcnow() - oldest).total_seconds(), 3)
        ),
    }
