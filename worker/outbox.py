"""The transactional outbox: jobs are written with the change and pushed after commit.

``enqueue(session, actor, *args)`` adds an ``outbox`` row in the caller's transaction.
When that transaction commits, the rows are marked sent by one UPDATE that keeps them
locked, pushed to Redis, and the mark committed (un-marked for any push that failed), in
one short transaction of their own; the relay skips locked rows, so no row goes twice. A rolled-back
transaction leaves no row, so nothing is pushed. Rows that could not be pushed (Redis
down, process killed between commit and push) are sent by ``relay``, which the
``relay_outbox`` actor runs every minute.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Sequence
from typing import Any

import dramatiq
from sqlalchemy import Connection, Row, delete, event, func, insert, select, update
from sqlalchemy.orm import Session

from models import db
from models.base import utcnow
from models.db import AppSession
from models.outbox import OutboxMessage

logger = logging.getLogger(__name__)

_PENDING_KEY = "cartfleet.outbox.pending"
RELAY_BATCH_SIZE = 500
SENT_RETENTION = dt.timedelta(days=7)


def enqueue(
    session: Session, actor: dramatiq.Actor, *args: Any, delay_ms: int | None = None, **kwargs: Any
) -> int:
    """Write a job for ``actor`` into the caller's transaction; it is sent after commit.

    Arguments must be JSON primitives (ids, strings, numbers), as for any actor.
    Returns the outbox row id.
    """
    row_id = session.execute(
        insert(OutboxMessage)
        .values(
            message_id=uuid.uuid4(),
            queue_name=actor.queue_name,
            actor_name=actor.actor_name,
            args=list(args),
            kwargs=kwargs,
            options={},
            delay_ms=delay_ms,
        )
        .returning(OutboxMessage.id)
    ).scalar_one()
    session.info.setdefault(_PENDING_KEY, []).append(row_id)
    return row_id


_OUTBOX = OutboxMessage.__table__
_MESSAGE_COLUMNS = (
    _OUTBOX.c.id,
    _OUTBOX.c.message_id,
    _OUTBOX.c.queue_name,
    _OUTBOX.c.actor_name,
    _OUTBOX.c.args,
    _OUTBOX.c.kwargs,
    _OUTBOX.c.options,
    _OUTBOX.c.delay_ms,
    _OUTBOX.c.created_at,
)


def _message(row: Row) -> dramatiq.Message:
    return dramatiq.Message(
        queue_name=row.queue_name,
        actor_name=row.actor_name,
        args=tuple(row.args),
        kwargs=row.kwargs,
        options=row.options,
        message_id=str(row.message_id),
        message_timestamp=int(row.created_at.timestamp() * 1000),
    )


def _claim_and_push(connection: Connection, ids: Sequence[int]) -> int:
    """Mark the unsent rows among ``ids`` sent, push them, and un-mark the ones not pushed.

    The UPDATE holds the rows' locks until the caller's transaction commits, so another
    pusher (which skips locked rows) never sends them too; a row is left sent only once
    Redis took it. Stops at the first push that fails and re-raises after un-marking.
    """
    claimed = connection.execute(
        update(_OUTBOX)
        .where(_OUTBOX.c.id.in_(ids), _OUTBOX.c.sent_at.is_(None))
        .values(sent_at=func.now())
        .returning(*_MESSAGE_COLUMNS)
    ).all()
    broker = dramatiq.get_broker()
    pushed = 0
    try:
        for row in sorted(claimed, key=lambda row: row.id):
            broker.enqueue(_message(row), delay=row.delay_ms)
            pushed += 1
    except Exception:
        unsent = [row.id for row in sorted(claimed, key=lambda row: row.id)[pushed:]]
        connection.execute(update(_OUTBOX).where(_OUTBOX.c.id.in_(unsent)).values(sent_at=None))
        connection.commit()
        raise
    return pushed


def push(ids: Sequence[int]) -> int:
    """Push the given unsent rows now; returns how many were sent."""
    with db.engine().connect() as connection:
        pushed = _claim_and_push(connection, list(ids))
        connection.commit()
    return pushed


def relay(*, batch_size: int = RELAY_BATCH_SIZE, max_batches: int = 20) -> int:
    """Send rows that were committed but not pushed, oldest first; returns how many."""
    sent = 0
    for _ in range(max_batches):
        batch = (
            select(_OUTBOX.c.id)
            .where(_OUTBOX.c.sent_at.is_(None))
            .order_by(_OUTBOX.c.id)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        )
        with db.engine().connect() as connection:
            ids = connection.scalars(batch).all()
            pushed = _claim_and_push(connection, ids)
            connection.commit()
        sent += pushed
        if pushed < batch_size:
            break
    if sent:
        logger.info("Relayed %d outbox message(s)", sent)
    return sent


def prune(*, older_than: dt.timedelta = SENT_RETENTION, batch_size: int = 5_000) -> int:
    """Delete one batch of rows sent longer ago than ``older_than``."""
    with db.Session.begin() as session:
        ids = (
            select(OutboxMessage.id)
            .where(OutboxMessage.sent_at < utcnow() - older_than)
            .limit(batch_size)
            .scalar_subquery()
        )
        return session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(ids))).rowcount


@event.listens_for(AppSession, "after_commit")
def _push_after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a released savepoint; the rows go out when the real transaction commits
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
    if session.in_nested_transaction():
        return  # rows of a rolled-back savepoint are gone; push() simply won't find them
    session.info.pop(_PENDING_KEY, None)
