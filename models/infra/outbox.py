"""Jobs written in the same transaction as the change that causes them."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import BigInteger, Index, Insert, String, bindparam, insert, select, text
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.selectable import CTE

from models.base import Base, created_at


class OutboxMessage(Base):
    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    message_id: Mapped[uuid.UUID] = mapped_column(unique=True, default=uuid.uuid4)
    queue_name: Mapped[str] = mapped_column(String(64))
    actor_name: Mapped[str] = mapped_column(String(128))
    args: Mapped[list[Any]]
    kwargs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    delay_ms: Mapped[int | None]
    created_at: Mapped[dt.datetime] = created_at()
    sent_at: Mapped[dt.datetime | None]

    __table_args__ = (
        Index("ix_outbox_unsent", "id", postgresql_where=text("sent_at IS NULL")),
        Index("ix_outbox_sent_at", "sent_at"),
    )


_TABLE = OutboxMessage.__table__
ROW_COLUMNS = ("message_id", "queue_name", "actor_name", "args", "kwargs", "options", "delay_ms")


def insert_row(*, when: CTE | None = None) -> Insert:
    """``INSERT INTO outbox … RETURNING id`` taking the row's columns as parameters.

    With ``when``, the row is inserted only if that CTE yields a row (one row per row
    it yields), so a job can be written in the same statement as the change causing it.
    Built once at import by its callers: executing a prebuilt statement skips
    SQLAlchemy's statement construction on hot paths.
    """
    params = [bindparam(name, type_=_TABLE.c[name].type) for name in ROW_COLUMNS]
    if when is None:
        statement = insert(_TABLE).values(dict(zip(ROW_COLUMNS, params, strict=True)))
    else:
        statement = insert(_TABLE).from_select(ROW_COLUMNS, select(*params).select_from(when))
    return statement.returning(_TABLE.c.id)
