"""Refunds seen on Stripe (``refund.updated``, ``charge.refunded``) applied to an order.

Only succeeded refunds count; the order's refunded total never shrinks, and the status
follows from it through ``payment_effects.settle`` like every other payment fact.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base, created_at, quoted
from models.orders.payment_effects import Settlement, payment_facts, refund_status, settle
from models.orders.tables import Order


class RefundStatus(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


REASONS = ("requested_by_customer", "duplicate", "fraudulent")


class Refund(Base):
    """A refund asked for in the admin (or found at Stripe); its status follows Stripe."""

    __tablename__ = "refunds"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    amount_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16), default=RefundStatus.PENDING)
    stripe_refund_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    failure_reason: Mapped[str | None] = mapped_column(String(500))
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[dt.datetime] = created_at()

    __table_args__ = (
        CheckConstraint(f"status IN ({quoted(tuple(RefundStatus))})", name="status_known"),
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        Index("ix_refunds_order_id", "order_id"),
    )


def record_refund(
    session: Session,
    *,
    order: Order,
    event_id: str | None,
    created: int,
    refund_id: str,
    amount: int,
    status: str,
) -> Settlement:
    """``refund.updated``: one refund's latest state; only succeeded refunds count."""
    known_facts = payment_facts(order)
    refunds = dict(known_facts.get("refunds") or {})
    known = refunds.get(refund_id)
    if known is None or int(known.get("created", 0)) <= created:
        refunds[refund_id] = {"amount": int(amount), "status": status, "created": created}
    counted = sum(r["amount"] for r in refunds.values() if r["status"] == "succeeded")
    order.refunded_cents = max(order.refunded_cents, counted)
    return settle(
        session,
        order=order,
        kind="refund_updated",
        event_id=event_id,
        created=created,
        proposed=refund_status(order),
        captures=True,
        facts={"refunds": refunds},
        refund_id=refund_id,
        amount=amount,
        refund_status=status,
    )


def record_charge_refunded(
    session: Session,
    *,
    order: Order,
    event_id: str | None,
    created: int,
    amount_refunded: int,
    charge_id: str | None = None,
) -> Settlement:
    """``charge.refunded``: the charge's cumulative refunded amount."""
    order.refunded_cents = max(order.refunded_cents, int(amount_refunded))
    return settle(
        session,
        order=order,
        kind="charge_refunded",
        event_id=event_id,
        created=created,
        proposed=refund_status(order),
        captures=True,
        amount_refunded=amount_refunded,
        charge=charge_id,
    )
