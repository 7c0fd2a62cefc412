"""Recovery rows: one per (cart, step), and the suppression list of unsubscribed addresses.

A step row is written once, when the recovery job claims the step, and never again for
that cart: the primary key is what keeps two schedulers, a restarted job or a retried
send from doing a step twice. Suppressions hold a hash of the address, not the cart, so
purging old carts does not undo an unsubscribe.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, created_at, quoted


class StepName(enum.StrEnum):
    EMAIL_1 = "email_1"
    PUSH = "push"
    EMAIL_2 = "email_2"
    ABANDON = "abandon"


class StepStatus(enum.StrEnum):
    PENDING = "pending"  # claimed, its send enqueued
    SENT = "sent"  # sent (or, for ``abandon``, done)
    CANCELED = "canceled"  # the cart was checked out before the send
    SKIPPED = "skipped"  # not sent: see ``reason``
    DEAD = "dead"  # the send failed for good


class RecoveryStep(Base):
    __tablename__ = "recovery_steps"

    cart_id: Mapped[str] = mapped_column(
        ForeignKey("carts.id", ondelete="CASCADE"), primary_key=True
    )
    step: Mapped[str] = mapped_column(String(16), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    # Why a step was skipped or canceled: stale, no_email, no_consent, unsubscribed, ordered.
    reason: Mapped[str | None] = mapped_column(String(32))
    recipient: Mapped[str | None] = mapped_column(String(320))
    discount_code: Mapped[str | None] = mapped_column(
        ForeignKey("discount_codes.code", ondelete="SET NULL")
    )
    due_at: Mapped[dt.datetime]
    claimed_at: Mapped[dt.datetime]
    sent_at: Mapped[dt.datetime | None]
    canceled_at: Mapped[dt.datetime | None]
    clicked_at: Mapped[dt.datetime | None]
    clicks: Mapped[int] = mapped_column(default=0, server_default=text("0"))

    __table_args__ = (
        CheckConstraint(f"step IN ({quoted(tuple(StepName))})", name="step_known"),
        CheckConstraint(f"status IN ({quoted(tuple(StepStatus))})", name="status_known"),
        Index("ix_recovery_steps_sent_at", "sent_at", postgresql_where=text("sent_at IS NOT NULL")),
        Index("ix_recovery_steps_discount_code", "discount_code"),
    )


class Suppression(Base):
    """An address that unsubscribed from recovery reminders (by hash)."""

    __tablename__ = "recovery_suppressions"

    email_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[dt.datetime] = created_at()


def email_hash(email: str) -> str:
    """SHA-256 of the trimmed, lower-cased address: what a suppression stores."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()
