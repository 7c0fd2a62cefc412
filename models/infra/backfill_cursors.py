"""Where the Stripe Events API backfill resumes: its cursor, one row per listing."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String, func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base

EVENTS = "events"


class BackfillCursor(Base):
    """Every Stripe event created before ``position`` has been checked against the inbox.

    ``position`` is the newest event seen (``event_id``), or the start of the last run
    less the overlap when no event came, so a quiet store does not age the cursor.
    """

    __tablename__ = "stripe_backfill_cursors"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    position: Mapped[dt.datetime]
    event_id: Mapped[str | None] = mapped_column(String(255))
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


def position(session: Session, name: str = EVENTS) -> dt.datetime | None:
    cursor = session.get(BackfillCursor, name)
    return None if cursor is None else cursor.position


def advance(session: Session, *, to: dt.datetime, event_id: str | None, name: str = EVENTS) -> None:
    """Move the cursor to ``to`` unless it is already further (two runs may overlap)."""
    table = BackfillCursor.__table__
    statement = insert(table).values(name=name, position=to, event_id=event_id)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[table.c.name],
            set_={
                "position": statement.excluded.position,
                "event_id": statement.excluded.event_id,
                "updated_at": func.now(),
            },
            where=table.c.position < statement.excluded.position,
        )
    )
