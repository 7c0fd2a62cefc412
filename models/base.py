"""Declarative base with a naming convention so every constraint has a stable name."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import DateTime, MetaData, Table, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def quoted(values: tuple[str, ...]) -> str:
    """SQL list of string literals, for CHECK constraints over a fixed set of statuses."""
    return ", ".join(f"'{value}'" for value in values)


class Base(DeclarativeBase):
    # Every model here is mapped to a Table (never to a join or a select): typed so, Core
    # statements take ``Model.__table__``.
    __table__: ClassVar[Table]
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        dt.datetime: DateTime(timezone=True),
        dict[str, Any]: JSONB,
        list[Any]: JSONB,
    }


def created_at() -> Mapped[dt.datetime]:
    """A ``created_at``-style column stamped by the database."""
    return mapped_column(server_default=func.now())
