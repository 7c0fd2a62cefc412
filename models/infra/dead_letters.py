"""The dead-letter archive: every message whose retries ran out, kept past Redis's expiry.

Dramatiq keeps a dead letter in Redis for 7 days; this table keeps its record (message,
final error and traceback) until it is requeued or purged, and those marks after. A
message id is one row: a requeued message that dies again updates its row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Index, Select, String, Text, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base


class DeadLetter(Base):
    __tablename__ = "dead_letters"

    message_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The id of its Redis entry (``dramatiq:<queue>.XQ``), unique per death.
    redis_id: Mapped[str | None] = mapped_column(String(64), index=True)
    queue: Mapped[str] = mapped_column(String(128))
    actor: Mapped[str] = mapped_column(String(128))
    args: Mapped[list[Any]]
    kwargs: Mapped[dict[str, Any]]
    options: Mapped[dict[str, Any]]
    failed_at: Mapped[dt.datetime]
    retries: Mapped[int]
    error: Mapped[str] = mapped_column(Text)
    traceback: Mapped[str | None] = mapped_column(Text)
    requeued_at: Mapped[dt.datetime | None]
    purged_at: Mapped[dt.datetime | None]

    __table_args__ = (
        Index(
            "ix_dead_letters_queue_failed_at",
            "queue",
            "failed_at",
            postgresql_where=text("requeued_at IS NULL AND purged_at IS NULL"),
        ),
    )

    def to_dict(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "queue": self.queue,
            "actor": self.actor,
            "args": self.args,
            "kwargs": self.kwargs,
            "failed_at": self.failed_at.isoformat(),
            "retries": self.retries,
            "error": self.error,
            "traceback": self.traceback,
        }


def _is_waiting() -> ColumnElement[bool]:
    return DeadLetter.requeued_at.is_(None) & DeadLetter.purged_at.is_(None)


def record(session: Session, letters: Sequence[dict[str, Any]]) -> None:
    """Archive dead letters (dicts of the table's columns but the marks).

    A message id already archived is overwritten only by a later death (a requeued
    message that died again, or a duplicate delivery), which also clears its requeue and
    purge marks. Of one message id given twice, the later death is kept.
    """
    latest: dict[str, dict[str, Any]] = {}
    for letter in sorted(letters, key=lambda letter: letter["failed_at"]):
        latest[letter["message_id"]] = letter
    if not latest:
        return
    statement = insert(DeadLetter).values(list(latest.values()))
    excluded = statement.excluded
    columns = ("redis_id", "queue", "actor", "args", "kwargs", "options", "failed_at", "retries")
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[DeadLetter.message_id],
            set_={
                **{name: excluded[name] for name in (*columns, "error", "traceback")},
                "requeued_at": None,
                "purged_at": None,
            },
            where=DeadLetter.failed_at < excluded.failed_at,
        )
    )


def _matching(queue: str | None, actor: str | None) -> Select[DeadLetter]:
    statement = select(DeadLetter).where(_is_waiting())
    if queue:
        statement = statement.where(DeadLetter.queue == queue)
    if actor:
        statement = statement.where(DeadLetter.actor == actor)
    return statement


def waiting(
    session: Session,
    *,
    queue: str | None = None,
    actor: str | None = None,
    limit: int | None = None,
) -> list[DeadLetter]:
    """Dead letters neither requeued nor purged, oldest first."""
    statement = _matching(queue, actor).order_by(DeadLetter.failed_at, DeadLetter.message_id)
    return list(session.scalars(statement.limit(limit)))


def lock_waiting(
    session: Session,
    *,
    message_ids: Sequence[str] | None = None,
    queue: str | None = None,
    actor: str | None = None,
    limit: int | None = None,
) -> list[DeadLetter]:
    """Lock waiting dead letters (named, or matching), oldest first, so one caller acts on each.

    Rows another transaction holds are skipped: that caller is acting on them.
    """
    statement = _matching(queue, actor)
    if message_ids is not None:
        statement = statement.where(DeadLetter.message_id.in_(message_ids))
    statement = statement.order_by(DeadLetter.failed_at).limit(limit)
    return list(session.scalars(statement.with_for_update(skip_locked=True)))


def archived_redis_ids(session: Session, redis_ids: Sequence[str]) -> set[str]:
    """Which of these Redis entry ids the archive holds already."""
    statement = select(DeadLetter.redis_id).where(DeadLetter.redis_id.in_(redis_ids))
    return set(session.scalars(statement))


def waiting_by_queue(session: Session) -> dict[str, int]:
    """How many dead letters wait in each queue."""
    rows = session.execute(
        select(DeadLetter.queue, func.count()).where(_is_waiting()).group_by(DeadLetter.queue)
    )
    return {queue: count for queue, count in rows}
