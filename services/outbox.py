"""The transactional outbox: jobs are written with the change and pushed after commit.

``enqueue(session, actor, *args)`` adds an ``outbox`` row in the caller's transaction
and keeps the message in memory. When that transaction commits, the messages are pushed
to Redis, and the pushed rows are marked sent in batches by a background thread
(services/sent_marks.py). A rolled-back transaction leaves no row, so nothing is pushed.

``after_commit(session, callback)`` runs a callback (a metric, an alert) under the same
rule: once the outermost transaction commits, never for a (sub)transaction that rolled
back.

Rows that were committed but not pushed (Redis down, process killed between commit and
push) are sent by ``relay``, which the ``relay_outbox`` actor runs every minute. The
relay leaves rows younger than ``RELAY_AFTER`` alone, as their own process is pushing
them; should it still catch one already pushed (a process stalled that long, or killed
between the push and its mark), the job runs twice, which every actor tolerates
by being idempotent.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import dramatiq
from sqlalchemy import Row, bindparam, delete, event, func, select, update
from sqlalchemy.orm import Session, SessionTransaction

from models import db
from models.db import AppSession
from models.infra.outbox import OutboxMessage, insert_row
from services import tracing
from services.sent_marks import SentMarks

logger = logging.getLogger(__name__)

_PENDING_KEY = "cartfleet.outbox.pending"
RELAY_AFTER = dt.timedelta(seconds=30)
RELAY_BATCH_SIZE = 500
SENT_RETENTION = dt.timedelta(days=7)

_OUTBOX = OutboxMessage.__table__
_INSERT = insert_row()
_MARK_SENT = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id == func.any(bindparam("ids")), _OUTBOX.c.sent_at.is_(None))
    .values(sent_at=func.now())
)
# Pushed rows waiting for their sent mark (flushed by a thread, and at exit).
sent_marks = SentMarks(_MARK_SENT)


@dataclass(frozen=True)
class Pending:
    """A committed outbox row and the message it holds, waiting to be pushed."""

    row_id: int
    message: dramatiq.Message
    delay_ms: int | None = None


def message(actor: dramatiq.Actor, *args: Any, **kwargs: Any) -> dramatiq.Message:
    """The Dramatiq message an outbox row stands for (its id is the row's ``message_id``).

    It carries the current trace (services/tracing.py), which the row keeps for the relay.
    """
    return dramatiq.Message(
        queue_name=actor.queue_name,
        actor_name=actor.actor_name,
        args=args,
        kwargs=kwargs,
        options=tracing.message_options(),
        message_id=str(uuid.uuid4()),
        message_timestamp=int(time.time() * 1000),
    )


def row(job: dramatiq.Message, delay_ms: int | None = None) -> dict[str, Any]:
    """The parameters of ``models.infra.outbox.insert_row`` for ``job``."""
    return {
        "message_id": uuid.UUID(job.message_id),
        "queue_name": job.queue_name,
        "actor_name": job.actor_name,
        "args": list(job.args),
        "kwargs": job.kwargs,
        "options": job.options,
        "delay_ms": delay_ms,
    }


def enqueue(
    session: Session, actor: dramatiq.Actor, *args: Any, delay_ms: int | None = None, **kwargs: Any
) -> int:
    """Write a job for ``actor`` into the caller's transaction; it is sent after commit.

    Arguments must be JSON primitives (ids, strings, numbers), as for any actor.
    Returns the outbox row id.
    """
    job = message(actor, *args, **kwargs)
    row_id = session.connection().execute(_INSERT, row(job, delay_ms)).scalar_one()
    _hold(session, Pending(row_id, job, delay_ms))
    return row_id


def after_commit(session: Session, callback: Callable[[], object]) -> None:
    """Run ``callback`` once the caller's outermost transaction commits; never on rollback.

    For metrics and alerts, so a rolled-back or retried attempt is not counted twice. A
    callback registered inside a savepoint that rolls back is dropped with it.
    """
    _hold(session, callback)


def _hold(session: Session, item: Pending | Callable[[], object]) -> None:
    transaction = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_PENDING_KEY, []).append((transaction, item))


def send(pending: Sequence[Pending]) -> int:
    """Push committed rows to Redis; returns how many went. The pushed are marked sent.

    Never raises: a row that could not be pushed stays unsent for the relay.
    """
    pushed = push(pending)
    if pushed:
        sent_marks.add(pushed)
    return len(pushed)


def push(pending: Sequence[Pending]) -> list[int]:
    """Push in order until one fails; returns the row ids pushed."""
    broker = dramatiq.get_broker()
    pushed: list[int] = []
    try:
        for item in pending:
            broker.enqueue(item.message, delay=item.delay_ms)
            pushed.append(item.row_id)
    except Exception:
        logger.warning(
            "Outbox push failed; %d row(s) left for the relay",
            len(pending) - len(pushed),
            exc_info=True,
        )
    return pushed


MESSAGE_COLUMNS = (
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


def pending_row(stored: Row) -> Pending:
    job: dramatiq.Message[Any] = dramatiq.Message(
        queue_name=stored.queue_name,
        actor_name=stored.actor_name,
        args=tuple(stored.args),
        kwargs=stored.kwargs,
        options=stored.options,
        message_id=str(stored.message_id),
        message_timestamp=int(stored.created_at.timestamp() * 1000),
    )
    return Pending(stored.id, job, stored.delay_ms)


def relay(
    *,
    batch_size: int = RELAY_BATCH_SIZE,
    max_batches: int = 20,
    older_than: dt.timedelta | None = None,
) -> int:
    """Send rows committed more than ``older_than`` ago but never pushed; returns how many.

    Each batch stays locked (``SKIP LOCKED`` for a concurrent relay) until its pushes
    are marked. Stops at the first push that fails; the next run starts over.
    """
    age = RELAY_AFTER if older_than is None else older_than
    sent = 0
    for _ in range(max_batches):
        batch = (
            select(*MESSAGE_COLUMNS)
            .where(_OUTBOX.c.sent_at.is_(None), _OUTBOX.c.created_at <= func.now() - age)
            .order_by(_OUTBOX.c.id)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        )
        with db.engine().connect() as connection:
            pushed = push([pending_row(stored) for stored in connection.execute(batch)])
            if pushed:
                connection.execute(_MARK_SENT, {"ids": pushed})
            connection.commit()
        sent += len(pushed)
        if len(pushed) < batch_size:
            break
    if sent:
        logger.info("Relayed %d outbox message(s)", sent)
    return sent


def prune(*, older_than: dt.timedelta = SENT_RETENTION, batch_size: int = 5_000) -> int:
    """Delete one batch of rows sent longer ago than ``older_than``."""
    with db.Session.begin() as session:
        ids = (
            select(OutboxMessage.id)
            .where(OutboxMessage.sent_at < func.now() - older_than)
            .limit(batch_size)
            .scalar_subquery()
        )
        return db.affected_rows(session, delete(OutboxMessage).where(OutboxMessage.id.in_(ids)))


@event.listens_for(AppSession, "after_commit")
def _send_after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a released savepoint; the rows go out when the real transaction commits
    held = [item for _, item in session.info.pop(_PENDING_KEY, [])]
    messages = [item for item in held if isinstance(item, Pending)]
    if messages:
        send(messages)
    for callback in held:
        if not isinstance(callback, Pending):
            try:
                callback()
            except Exception:
                logger.exception("After-commit action failed")


@event.listens_for(AppSession, "after_soft_rollback")
def _forget_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    """Drop the jobs and callbacks held inside the (sub)transaction that rolled back."""
    pending = session.info.get(_PENDING_KEY)
    if pending:
        session.info[_PENDING_KEY] = [
            (transaction, item)
            for transaction, item in pending
            if not _inside(transaction, previous_transaction)
        ]


def _inside(transaction: SessionTransaction | None, outer: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is outer:
            return True
        transaction = transaction.parent
    return False


@event.listens_for(AppSession, "after_transaction_end")
def _forget_at_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # closed without a commit: its rows were never written
        session.info.pop(_PENDING_KEY, None)
