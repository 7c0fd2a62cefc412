"""The audit log: one row per admin action (who, what, on what, when, request, outcome)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Index, Select, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base, created_at


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor: Mapped[str] = mapped_column(String(320))
    actor_user_id: Mapped[int | None]
    action: Mapped[str] = mapped_column(String(64))
    # "<kind>:<id>" (order:…, user:…, dead_letter:…), or None for actions on nothing.
    target: Mapped[str | None] = mapped_column(String(300))
    request_id: Mapped[str | None] = mapped_column(String(64))
    # "ok", "failed" (refused: 4xx or 5xx) or "denied" (the role may not).
    outcome: Mapped[str] = mapped_column(String(16))
    status_code: Mapped[int | None]
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[dt.datetime] = created_at()

    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_target_at", "target", "at"),
        Index("ix_audit_log_actor_at", "actor", "at"),
    )


def record(
    session: Session,
    *,
    actor: str,
    actor_user_id: int | None,
    action: str,
    target: str | None,
    outcome: str,
    request_id: str | None = None,
    status_code: int | None = None,
    **details: Any,
) -> AuditEntry:
    entry = AuditEntry(
        actor=actor,
        actor_user_id=actor_user_id,
        action=action,
        target=target,
        outcome=outcome,
        request_id=request_id,
        status_code=status_code,
        details=details,
    )
    session.add(entry)
    return entry


def search(
    *,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> Select[AuditEntry]:
    """Entries matching every given filter, newest first."""
    query = select(AuditEntry)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if action:
        query = query.where(AuditEntry.action == action)
    if target:
        query = query.where(AuditEntry.target == target)
    if since:
        query = query.where(AuditEntry.at >= since)
    if until:
        query = query.where(AuditEntry.at < until)
    return query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())


def for_target(session: Session, target: str) -> list[AuditEntry]:
    return list(session.scalars(search(target=target)))
