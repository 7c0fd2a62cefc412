"""The Stripe webhook inbox: one row per Stripe event id, the source of exactly-once."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal, Protocol, get_args

from sqlalchemy import (
    CheckConstraint,
    ColumnElement,
    Connection,
    ForeignKey,
    Index,
    Insert,
    Row,
    String,
    bindparam,
    func,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql.selectable import Select

from models.base import Base, created_at, quoted, utcnow
from models.infra.outbox import insert_row

WebhookStatus = Literal["received", "processed", "ignored", "failed", "dead"]
WEBHOOK_STATUSES: tuple[WebhookStatus, ...] = get_args(WebhookStatus)
SOURCES = ("webhook", "backfill")
# Why an event was not applied; a row with a reason is final (never retried nor replayed).
PAYMENT_INTENT_MISMATCH = "payment_intent_mismatch"
AMOUNT_MISMATCH = "amount_mismatch"
CURRENCY_MISMATCH = "currency_mismatch"
LIVEMODE_MISMATCH = "livemode_mismatch"
MISMATCHES = (PAYMENT_INTENT_MISMATCH, AMOUNT_MISMATCH, CURRENCY_MISMATCH)


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
    # How it reached the inbox: Stripe's webhook, or the Events API backfill.
    source: Mapped[str] = mapped_column(String(16), default="webhook", server_default="webhook")
    reason: Mapped[str | None] = mapped_column(String(32))
    # The order a not-applied event was checked against.
    order_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))

    __table_args__ = (
        CheckConstraint(f"status IN ({quoted(WEBHOOK_STATUSES)})", name="status_known"),
        CheckConstraint(f"source IN ({quoted(SOURCES)})", name="source_known"),
        Index("ix_webhook_events_status_received_at", "status", "received_at"),
        Index(
            "ix_webhook_events_reason_received_at",
            "reason",
            "received_at",
            postgresql_where=text("reason IS NOT NULL"),
        ),
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
            source=bindparam("source"),
            reason=bindparam("reason"),
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


def _event_params(event: dict[str, Any], source: str, reason: str | None) -> dict[str, Any]:
    return {
        "id": event["id"],
        "type": event["type"],
        "api_version": event.get("api_version"),
        "livemode": bool(event.get("livemode", False)),
        "payload": event,
        "source": source,
        "reason": reason,
    }


def store_with_job(
    connection: Connection, *, event: dict[str, Any], job: dict[str, Any], source: str
) -> int | None:
    """Insert a verified Stripe event ``received`` and its job's outbox row, atomically.

    ``job`` holds the outbox row's columns (``services.outbox.row``). Both rows are written
    by one statement, so nothing else is needed for atomicity. Returns the outbox row id,
    or None when the event id is already stored (then nothing is written).
    """
    params = {**_event_params(event, source, None), **job}
    return connection.execute(_STORE_WITH_JOB, params).scalar_one_or_none()


def store_ignored(
    connection: Connection, *, event: dict[str, Any], source: str, reason: str | None = None
) -> bool:
    """Insert an event no job will apply, already ``ignored``; False if a duplicate.

    A type with no handler has no ``reason``; an event of the other Stripe mode (live vs
    test) has ``livemode_mismatch``. The inbox keeps every delivery even so.
    """
    params = _event_params(event, source, reason)
    return connection.execute(_STORE_IGNORED, params).first() is not None


def known_ids(session: Session, ids: list[str]) -> set[str]:
    """Which of ``ids`` the inbox already holds."""
    return set(session.scalars(select(WebhookEvent.id).where(WebhookEvent.id.in_(ids))))


class _Outcome(Protocol):
    @property
    def status(self) -> str: ...

    @property
    def reason(self) -> str | None: ...


def is_final(event: _Outcome) -> bool:
    """Nothing more will be done to the row: processed, ignored, or refused for a reason."""
    return event.status in FINAL_STATUSES or event.reason is not None


def lock(session: Session, event_id: str) -> WebhookEvent | None:
    """The inbox row, locked until the caller's transaction ends (one processor at a time)."""
    return session.get(WebhookEvent, event_id, with_for_update=True, populate_existing=True)


def _take_statement() -> Select[str, str | None, str | None, dict[str, Any] | None]:
    """Lock the row and, unless it is final, mark it ``processed``, in one statement.

    Yields the row as it was (``status``, ``reason``, ``last_error``) and, when it was
    marked, its ``payload``; no row when the id is not stored.
    """
    before = (
        select(_TABLE.c.id, _TABLE.c.status, _TABLE.c.reason, _TABLE.c.last_error)
        .where(_TABLE.c.id == bindparam("event_id"))
        .with_for_update()
        .cte("before")
    )
    marked = (
        update(_TABLE)
        .where(
            _TABLE.c.id == before.c.id,
            before.c.status.not_in(FINAL_STATUSES),
            before.c.reason.is_(None),
        )
        .values(
            status="processed",
            attempts=_TABLE.c.attempts + 1,
            processed_at=bindparam("now"),
            last_error=None,
        )
        .returning(_TABLE.c.payload)
        .cte("marked")
    )
    return select(
        before.c.status, before.c.reason, before.c.last_error, marked.c.payload
    ).select_from(before.outerjoin(marked, true()))


# The processor's statements, built once: a payment event runs them on its hot path.
_TAKE = _take_statement()
_SET_OUTCOME = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("event_id"))
    .values(status=bindparam("outcome"), last_error=bindparam("error"))
)
_MARK_NOT_APPLIED = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("event_id"))
    .values(
        status="failed",
        reason=bindparam("why"),
        order_id=bindparam("checked_order_id"),
        last_error=bindparam("detail"),
    )
)


def take(
    session: Session, event_id: str
) -> Row[str, str | None, str | None, dict[str, Any] | None] | None:
    """The row locked until the caller's transaction ends (one processor at a time) and,
    unless final, already marked ``processed`` in the same statement.

    Returns the row as it was before (``status``, ``reason``, ``last_error``) with its
    ``payload`` when it was marked (None when final), or None when the id is not stored.
    The mark is the common outcome; ``record_outcome`` and ``mark_not_applied`` correct
    it, and a rolled-back effect takes it back with everything else.
    """
    params = {"event_id": event_id, "now": utcnow()}
    return session.connection().execute(_TAKE, params).one_or_none()


def record_outcome(session: Session, *, event_id: str, status: str, last_error: str | None) -> None:
    """A row ``take`` marked ended otherwise (``ignored``: a type with no handler); its
    ``last_error`` is kept as it was."""
    params = {"event_id": event_id, "outcome": status, "error": last_error}
    session.connection().execute(_SET_OUTCOME, params)


def mark_not_applied(
    session: Session, *, event_id: str, reason: str, order_id: uuid.UUID, detail: str
) -> None:
    """The event ``take`` marked disagrees with its order: ``failed`` for good, with the
    reason (the attempt is counted and stamped by ``take``)."""
    params = {"event_id": event_id, "why": reason, "checked_order_id": order_id, "detail": detail}
    session.connection().execute(_MARK_NOT_APPLIED, params)


def not_applied(session: Session, *, limit: int) -> list[WebhookEvent]:
    """Events refused for a mismatch with their order, newest first."""
    return list(
        session.scalars(
            select(WebhookEvent)
            .where(WebhookEvent.reason.in_(MISMATCHES))
            .order_by(WebhookEvent.received_at.desc(), WebhookEvent.id.desc())
            .limit(limit)
        )
    )


def record_failure(session: Session, *, event_id: str, error: str) -> None:
    """Count a failed attempt (in a transaction of its own: the effect's rolled back)."""
    session.execute(
        update(WebhookEvent)
        .where(
            WebhookEvent.id == event_id,
            WebhookEvent.status.not_in(FINAL_STATUSES),
            WebhookEvent.reason.is_(None),
        )
        .values(
            status="failed", attempts=WebhookEvent.attempts + 1, last_error=error[-ERROR_LIMIT:]
        )
    )


def mark_dead(session: Session, *, event_id: str, error: str | None) -> WebhookEvent | None:
    """Retries ran out: the row becomes ``dead`` unless a later attempt got it processed."""
    event = lock(session, event_id)
    if event is None or is_final(event):
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
    """Ids to hand to the processor again: by id, else by status and receipt time.

    Events refused for a reason are final: replaying them would refuse them again.
    """
    conditions: list[ColumnElement[bool]] = [
        WebhookEvent.id.in_(ids) if ids else WebhookEvent.status.in_(statuses),
        WebhookEvent.reason.is_(None),
    ]
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
