"""Cart actors: the event log recovery and the funnel read, and the carts' scheduled upkeep.

Each periodic run is bounded (batch sizes below, and its time limit), idempotent and
recorded in ``job_runs`` by worker.job_runs; the int it returns is its items processed.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator

import dramatiq
from periodiq import cron
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import text

from models.base import utcnow
from models.carts import cleanup, events
from models.db import Session
from models.recommendations import views
from services import outbox

logger = logging.getLogger(__name__)

CLEANUP_BATCH = 100
PURGE_BATCH_CARTS = 1_000  # carts per delete transaction (4,000 rows with 3 items each)
PURGE_CHUNK_CARTS = 250_000  # candidates gathered, then deleted in physical order
PURGE_READ_CARTS = 25_000  # candidates per read transaction
PURGE_BATCH_VIEWS = 5_000
PURGE_BUDGET_S = 240  # of its 300 s limit; what is left is handed to a follow-up run


@dramatiq.actor(
    actor_name="record_cart_event",
    queue_name="carts",
    max_retries=10,
    min_backoff=1_000,
    max_backoff=300_000,
    time_limit=30_000,
)
def record_cart_event(
    cart_id: str,
    kind: str,
    sku: str | None,
    quantity: int | None,
    at: str,
    source_id: str,
) -> None:
    """Append one cart event; ``source_id`` makes a redelivery a no-op.

    The web now appends the event in the write's own transaction; this actor remains for
    the messages a previous release queued. A cart purged before the event lands is
    skipped rather than retried forever.
    """
    with Session.begin() as session:
        events.append(
            session,
            cart_id=cart_id,
            kind=kind,
            sku=sku,
            quantity=quantity,
            at=dt.datetime.fromisoformat(at),
            source_id=source_id,
        )


CLEANUP_EXECUTIONS = Counter(
    "checkout_cleanup_job_executions_total", "Runs of the checked-out cart cleanup job."
)
CLEANUP_SUCCESSES = Counter(
    "checkout_cleanup_job_success_total", "Runs of the checked-out cart cleanup job that finished."
)
CLEANUP_CARTS = Histogram(
    "checkout_cleanup_job_carts_processed",
    "Carts completed per run of the checked-out cart cleanup job.",
    buckets=(0, 1, 5, 10, 25, 50, 100),
)
CARTS_PENDING_CLEANUP = Gauge(
    "checkout_carts_pending_cleanup",
    "Carts in checkout whose order is paid or later, after the last cleanup run.",
    multiprocess_mode="mostrecent",
)
SESSIONS_CLEANED = Counter(
    "cart_expired_sessions_cleaned_total", "Expired carts deleted by the session purge."
)


@dramatiq.actor(
    actor_name="cleanup_checked_out_carts",
    queue_name="maintenance",
    periodic=cron("*/5 * * * *"),
    max_retries=0,  # the next run, five minutes later, is the retry
    time_limit=60_000,
)
def cleanup_checked_out_carts() -> int:
    """Complete up to 100 carts left in checkout although their order is paid."""
    CLEANUP_EXECUTIONS.inc()
    with Session.begin() as session:
        result = cleanup.cleanup_checked_out_carts(session, limit=CLEANUP_BATCH)
    with Session() as session:
        CARTS_PENDING_CLEANUP.set(cleanup.carts_pending_cleanup(session))
    CLEANUP_CARTS.observe(len(result.cleaned))
    CLEANUP_SUCCESSES.inc()
    logger.info(
        "Checked-out cart cleanup: %d completed, %d skipped (order missing)",
        len(result.cleaned),
        result.skipped_without_order,
    )
    return len(result.cleaned)


def _purge_chunk(
    *, cutoff: dt.datetime, after: dt.datetime | None
) -> tuple[cleanup.PurgeChunk, bool]:
    """About ``PURGE_CHUNK_CARTS`` candidates, read in short transactions, physically sorted.

    Also returns whether the reads reached the end of what is expired.
    """
    addresses: set[str] = set()
    last, exhausted = after, False
    while len(addresses) < PURGE_CHUNK_CARTS:
        with Session() as session:
            part = cleanup.purge_candidates(
                session, cutoff=cutoff, limit=PURGE_READ_CARTS, after=last
            )
        addresses.update(part.addresses)  # the carts expiring exactly at ``last`` come twice
        exhausted = len(part.addresses) < PURGE_READ_CARTS
        if exhausted or part.last_expires_at == last:
            break
        last = part.last_expires_at
    return cleanup.PurgeChunk(sorted(addresses, key=cleanup.physical_order), last), exhausted


def purge_batches(*, batch_size: int | None = None, budget_s: float | None = None) -> Iterator[int]:
    """Purge carts expired over 7 days ago, one short transaction per batch.

    Candidates are read a chunk at a time (oldest expiry first) and deleted in physical
    order. Yields each committed batch's cart count. When the budget runs out with work
    left, a follow-up run is enqueued, so no single run nears its time limit.
    """
    batch_size = batch_size or PURGE_BATCH_CARTS
    cutoff = utcnow() - cleanup.SESSION_RETENTION
    deadline = time.monotonic() + (PURGE_BUDGET_S if budget_s is None else budget_s)
    after = None
    while True:
        chunk, exhausted = _purge_chunk(cutoff=cutoff, after=after)
        deleted_in_chunk = 0
        for start in range(0, len(chunk.addresses), batch_size):
            with Session.begin() as session:
                # Losing the last batches to a crash only means the next run deletes them
                # again, so these commits need not wait for the WAL flush.
                session.execute(text("SET LOCAL synchronous_commit = off"))
                deleted = cleanup.purge_carts_at(
                    session, addresses=chunk.addresses[start : start + batch_size], cutoff=cutoff
                )
            SESSIONS_CLEANED.inc(deleted)
            deleted_in_chunk += deleted
            yield deleted
            more = start + batch_size < len(chunk.addresses) or not exhausted
            if more and time.monotonic() > deadline:
                with Session.begin() as session:
                    outbox.enqueue(session, purge_expired_sessions)
                logger.warning("Session purge out of time; a follow-up run continues")
                return
        if exhausted or not deleted_in_chunk:
            return
        after = chunk.last_expires_at


@dramatiq.actor(
    actor_name="purge_expired_sessions",
    queue_name="maintenance",
    periodic=cron("0 2 * * *"),
    max_retries=0,  # a missed night is caught up when the scheduler starts
    time_limit=300_000,
)
def purge_expired_sessions() -> int:
    """Delete carts (items and events too) expired over 7 days ago, unless an order has them,
    and product views past their retention."""
    purged = sum(purge_batches())
    logger.info("Purged %d expired cart(s)", purged)
    return purged + purge_views()


def purge_views(*, batch_size: int = PURGE_BATCH_VIEWS) -> int:
    """Delete product views older than their retention, one short transaction per batch."""
    cutoff = utcnow() - views.VIEW_RETENTION
    purged = 0
    while True:
        with Session.begin() as session:
            deleted = views.purge_batch(session, cutoff=cutoff, limit=batch_size)
        purged += deleted
        if deleted < batch_size:
            logger.info("Purged %d product view(s)", purged)
            return purged
