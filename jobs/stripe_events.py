"""Stripe webhook processing: exactly-once effects from at-least-once delivery.

``store_event`` is the one way into the inbox, for a webhook and for the Events API
backfill alike: the row and its job are written together, so both share dedupe and
exactly-once. ``process_stripe_event`` locks the inbox row and marks it processed (one
statement), then applies the effect, in one transaction. Failures are counted on the row
and retried with backoff; when retries run out Dramatiq dead-letters the message and
``mark_webhook_dead`` records it on the row and alerts. ``sweep_stuck_webhooks``
re-enqueues rows whose job never ran.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import traceback
from typing import Any

import dramatiq
from periodiq import cron
from prometheus_client import Counter, Gauge, Histogram

from jobs import stripe_handlers
from models import db, inbox
from models.db import Session
from services import outbox
from services.alerts import send_alert
from services.stripe import key_livemode
from worker.dead_letters import final_error

logger = logging.getLogger(__name__)

PROCESSING_SECONDS = Histogram(
    "stripe_webhook_processing_seconds",
    "Time to process one Stripe event (lock, effect, commit), failures included.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVENTS = Gauge(
    "stripe_webhook_events",
    "Stripe events in the inbox by status (refreshed every minute by the sweep).",
    ["status"],
    multiprocess_mode="mostrecent",
)
DEAD = Counter(
    "stripe_webhooks_dead_total",
    "Stripe events whose retries ran out (inbox row dead, message in the DLQ).",
    ["type"],
)

MAX_RETRIES = 10
MIN_BACKOFF_MS = 1_000
MAX_BACKOFF_MS = 600_000
STUCK_AFTER = dt.timedelta(minutes=2)
SWEEP_BATCH = 500


@dramatiq.actor(
    actor_name="process_stripe_event",
    queue_name="webhooks",
    max_retries=MAX_RETRIES,
    min_backoff=MIN_BACKOFF_MS,
    max_backoff=MAX_BACKOFF_MS,
    time_limit=120_000,
    on_retry_exhausted="mark_webhook_dead",
)
def process_stripe_event(event_id: str) -> None:
    """Apply the stored event ``event_id`` once; a processed row makes this a no-op."""
    started = time.perf_counter()
    try:
        with Session.begin() as session:
            event = inbox.take(session, event_id)
            if event is None:
                logger.warning("Stripe event %s is not in the inbox; nothing to do", event_id)
                return
            if event.payload is None:  # final: processed, ignored or refused already
                return
            outcome = stripe_handlers.apply_event(session, event.payload)
            if isinstance(outcome, stripe_handlers.NotApplied):
                inbox.mark_not_applied(
                    session,
                    event_id=event_id,
                    reason=outcome.reason,
                    order_id=outcome.order_id,
                    detail=outcome.detail,
                )
            elif outcome != "processed":
                inbox.record_outcome(
                    session, event_id=event_id, status=outcome, last_error=event.last_error
                )
    except Exception:
        _record_failure(event_id, traceback.format_exc())
        raise
    finally:
        PROCESSING_SECONDS.observe(time.perf_counter() - started)


def store_event(event: dict[str, Any], *, source: str = "webhook") -> str:
    """Store a verified Stripe event and queue its job; returns what happened.

    ``accepted``: new, ``process_stripe_event`` queued (pushed after the one-statement
    insert, or by the relay). ``ignored``: new, no job (a type without a handler, or
    an event of the other Stripe mode, stored with ``livemode_mismatch``).
    ``duplicate``: the id is already in the inbox, nothing written. Database errors
    propagate (the webhook answers them 400 or 503).
    """
    reason = None if bool(event.get("livemode")) == key_livemode() else inbox.LIVEMODE_MISMATCH
    if reason is not None or not stripe_handlers.handles(event["type"]):
        stored = db.with_connection(
            db.autocommit_engine(),
            lambda c: inbox.store_ignored(c, event=event, source=source, reason=reason),
        )
        return "ignored" if stored else "duplicate"
    job = outbox.message(process_stripe_event, event["id"])
    row = outbox.row(job)
    row_id = db.with_connection(
        db.autocommit_engine(),
        lambda c: inbox.store_with_job(c, event=event, job=row, source=source),
    )
    if row_id is None:
        return "duplicate"
    outbox.send([outbox.Pending(row_id, job)])
    return "accepted"


def _record_failure(event_id: str, error: str) -> None:
    # The effect's transaction rolled back; the attempt is recorded in one of its own.
    try:
        with Session.begin() as session:
            inbox.record_failure(session, event_id=event_id, error=error)
    except Exception:
        logger.exception("Could not record the failure of Stripe event %s", event_id)


@dramatiq.actor(
    actor_name="mark_webhook_dead",
    queue_name="webhooks",
    max_retries=20,
    min_backoff=1_000,
    max_backoff=300_000,
    time_limit=30_000,
)
def mark_webhook_dead(message: dict[str, Any], retry_info: dict[str, Any]) -> None:
    """Retries of a ``process_stripe_event`` message ran out: mark its row dead and alert.

    Sent by Dramatiq's Retries middleware (``on_retry_exhausted``) with the failed
    message, whose options carry the final traceback.
    """
    event_id = message["args"][0]
    error = (message.get("options") or {}).get("traceback")
    with Session.begin() as session:
        event = inbox.mark_dead(session, event_id=event_id, error=error)
        if event is None:
            return
        event_type, attempts = event.type, event.attempts
    DEAD.labels(type=event_type).inc()
    send_alert(
        "Stripe webhook dead-lettered",
        event_id=event_id,
        type=event_type,
        attempts=attempts,
        error=final_error(error) or "unknown",
        replay=f"cartfleet dlq requeue {message.get('message_id')}",
    )


@dramatiq.actor(
    actor_name="sweep_stuck_webhooks",
    queue_name="maintenance",
    periodic=cron("* * * * *"),
    max_retries=0,  # the next minute's run is the retry
    time_limit=60_000,
)
def sweep_stuck_webhooks() -> None:
    """Re-enqueue events still ``received`` after two minutes; refresh the status gauge."""
    with Session.begin() as session:
        ids = inbox.stuck_ids(session, older_than=STUCK_AFTER, limit=SWEEP_BATCH)
        for event_id in ids:
            outbox.enqueue(session, process_stripe_event, event_id)
        counts = inbox.counts_by_status(session)
    if ids:
        logger.warning("Re-enqueued %d stuck Stripe event(s)", len(ids))
    for status, count in counts.items():
        EVENTS.labels(status=status).set(count)
