"""The transactional outbox: jobs are written with the change and pushed after commit.

``enqueue(session, actor, *args)`` adds an ``outbox`` row in the caller's transaction.
When that transaction commits, the rows are claimed (``FOR UPDATE SKIP LOCKED``), pushed
to Redis and marked sent, in one short transaction of their own. A rolled-back
transaction leaves no row, so nothing is pushed. Rows that could not be pushed (Redis
down, process killed between commit and push) are sent by ``relay``, which the
``relay_outbox`` actor runs every minute.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

import dramatiq
from sqlalchemy import delete, event, select, update
from sqlalchemy.orm import Session

from models.base import utcnow
from models.db import AppSession
from models.db import Session as SessionFactory
from models.outbox import OutboxMessage

logger = logging.getLogger(__name__)

_PENDING_KEY = "cartfleet.outbox.pending"
RELAY_BATCH_SIZE = 500
SENT_RETENTION = dt.timedelta(days=7)


def enqueue(
    session: Session, actor: dramatiq.Actor, *args: Any, delay_ms: int | None = None, **kwargs: Any
) -> OutboxMessage:
    """Write a job for ``actor`` into the caller's transaction; it is sent after commit.

    Arguments must be JSON primitives (ids, strings, numbers), as for any actor.
    """
    row = OutboxMessage(
        queue_name=actor.queue_name,
        actor_name=actor.actor_name,
        args=list(args),
        kwargs=kwargs,
        options={},
        delay_ms=delay_ms,
    )
    session.add(row)
    session.flush()
    session.info.setdefault(_PENDING_KEY, []).append(row.id)
    return row


def _message(row: OutboxMessage) -> dramatiq.Message:
    return dramatiq.Message(
        queue_name=row.queue_name,
        actor_name=row.actor_name,
        args=tuple(row.args),
        kwargs=row.kwargs,
        options=row.options,
        message_id=str(row.message_id),
        message_timestamp=int(row.created_at.timestamp() * 1000),
    )


def _push_claimed(session: Session, rows: Sequence[OutboxMessage]) -> int:
    """Push locked rows in order and mark the pushed ones sent; stop at the first failure.

    A row is only marked sent when its push succeeded, and the lock is held until the
    mark commits, so two pushers never send the same row.
    """
    broker = dramatiq.get_broker()
    pushed: list[int] = []
    try:
        for row in rows:
            broker.enqueue(_message(row), delay=row.delay_ms)
            pushed.append(row.id)
    finally:
        if pushed:
            session.execute(
                update(OutboxMessage).where(OutboxMessage.id.in_(pushed)).values(sent_at=utcnow())
            )
    return len(pushed)


def push(ids: Sequence[int]) -> int:
    """Push the given unsent rows now; returns how many were sent."""
    with SessionFactory.begin() as session:
        rows = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.sent_at.is_(None))
            .order_by(OutboxMessage.id)
            .with_for_update(skip_locked=True)
        ).all()
        return _push_claimed(session, rows)


def relay(*, batch_size: int = RELAY_BATCH_SIZE, max_batches: int = 20) -> int:
    """Send rows that were committed but not pushed; returns how many were sent."""
    sent = 0
    for _ in range(max_batches):
        with SessionFactory.begin() as session:
            rows = session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.sent_at.is_(None))
                .order_by(OutboxMessage.id)
                .limit(batch_size)
                .with_for_update(skip_locked=True)
            ).all()
            sent += _push_claimed(session, rows)
        if len(rows) < batch_size:
            break
    if sent:
        logger.info("Relayed %d outbox message(s)", sent)
    return sent


def prune(*, older_than: dt.timedelta = SENT_RETENTION, batch_size: int = 5_000) -> int:
    """Delete one batch of rows sent longer ago than ``older_than``."""
    with SessionFactory.begin() as session:
        ids = (
            select(OutboxMessage.id)
            .where(OutboxMessage.sent_at < utcnow() - older_than)
            .limit(batch_size)
            .scalar_subquery()
        )
        return session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(ids))).rowcount


@event.listens_for(AppSession, "after_commit")
def _push_after_commit(session: Session) -> None:
    ids = session.info.pop(_PENDING_KEY, None)
    if not ids:
        return
    try:
        push(ids)
    except Exception:
        # The rows are committed; the relay sends them once Redis answers again.
        logger.warning("Outbox push failed; %d row(s) left for the relay", len(ids), exc_info=True)


@event.listens_for(AppSession, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)
