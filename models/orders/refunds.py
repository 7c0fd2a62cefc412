"""Refunds: asked for in the admin, made by a job at Stripe, settled by Stripe's webhooks.

``request_refund`` checks the amount against the refundable remainder (the total less
what succeeded or is still pending) under the order's row lock, so concurrent requests
cannot together refund more than was paid, and writes a ``pending`` row whose
idempotency key the job sends to Stripe. Stripe's ``refund.*`` and ``charge.refunded``
events then set the row's status (``apply_stripe_refund``; a refund made in Stripe's own
dashboard gets a row the same way) and the order's refunded total. Only succeeded
refunds count; the order's refunded total never shrinks, and the status follows from it
through ``payment_effects.settle`` like every other payment fact.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base, created_at, quoted
from models.errors import AmountOutOfRange, InvalidTransition, NotFound
from models.orders.payment_effects import Settlement, payment_facts, refund_status, settle
from models.orders.rules import REFUNDABLE
from models.orders.tables import Order
from models.orders.timeline import add_event


class RefundStatus(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


REASONS = ("requested_by_customer", "duplicate", "fraudulent")
FINAL = (RefundStatus.SUCCEEDED, RefundStatus.FAILED, RefundStatus.CANCELED)
# Who made a refund found at Stripe with no row of ours (Stripe's dashboard).
STRIPE_ACTOR = "stripe"


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


def _committed_cents(session: Session, order: Order) -> int:
    """What is refunded or on its way: succeeded (as Stripe counts it) plus pending."""
    rows = dict(
        session.execute(
            select(Refund.status, func.sum(Refund.amount_cents))
            .where(Refund.order_id == order.id, Refund.status.in_(("pending", "succeeded")))
            .group_by(Refund.status)
        ).all()
    )
    succeeded = max(order.refunded_cents, int(rows.get("succeeded") or 0))
    return succeeded + int(rows.get("pending") or 0)


def refundable_cents(session: Session, order: Order) -> int:
    return max(order.total_cents - _committed_cents(session, order), 0)


def request_refund(
    session: Session,
    *,
    order_id: uuid.UUID,
    amount_cents: int | None,
    reason: str,
    note: str | None,
    created_by: str,
) -> Refund:
    """A ``pending`` refund of ``amount_cents`` (default: the whole remainder).

    Raises ``NotFound``, ``InvalidTransition`` (the order took no payment, or is fully
    refunded) or ``AmountOutOfRange`` (more than the remainder). The caller enqueues
    ``refund_order`` for the returned row.
    """
    order = session.get(Order, order_id, with_for_update=True, populate_existing=True)
    if order is None:
        raise NotFound("No such order.")
    if order.status not in REFUNDABLE or not order.payment_intent_id:
        raise InvalidTransition(
            f"Only a paid order can be refunded; this one is {order.status}.",
            current_status=order.status,
        )
    remainder = refundable_cents(session, order)
    amount = remainder if amount_cents is None else amount_cents
    if not 0 < amount <= remainder:
        raise AmountOutOfRange(
            f"The refundable remainder is {remainder} {order.currency}; {amount} is not "
            "within it (refunds still pending count against it).",
            refundable_cents=remainder,
        )
    refund = Refund(
        order_id=order.id,
        amount_cents=amount,
        currency=order.currency,
        reason=reason,
        note=note,
        status=RefundStatus.PENDING,
        idempotency_key=f"cartfleet-refund-{uuid.uuid4().hex}",
        created_by=created_by,
    )
    session.add(refund)
    session.flush()
    add_event(
        session,
        order,
        "refund_requested",
        refund_id=refund.id,
        amount_cents=amount,
        reason=reason,
        actor=created_by,
    )
    return refund


def refunds_of(session: Session, order_id: uuid.UUID) -> list[Refund]:
    return list(
        session.scalars(select(Refund).where(Refund.order_id == order_id).order_by(Refund.id))
    )


def attach_stripe_refund(session: Session, *, refund_id: int, stripe_refund_id: str) -> None:
    """The job's answer from Stripe: the row learns its Stripe id (a webhook may have first)."""
    refund = session.get(Refund, refund_id, with_for_update=True)
    if refund is not None and refund.stripe_refund_id is None:
        refund.stripe_refund_id = stripe_refund_id


def mark_refund_failed(session: Session, *, refund_id: int, reason: str) -> bool:
    """Stripe refused the refund outright (nothing was refunded); returns whether it changed."""
    refund = session.get(Refund, refund_id, with_for_update=True)
    if refund is None or refund.status != RefundStatus.PENDING:
        return False
    refund.status, refund.failure_reason = RefundStatus.FAILED, reason[:500]
    order = session.get_one(Order, refund.order_id)
    add_event(session, order, "refund_failed", refund_id=refund.id, reason=reason[:500])
    return True


def _row_for(session: Session, order: Order, stripe_refund: dict[str, Any]) -> Refund:
    """Our row of a Stripe refund: by its id, by our metadata, or a new one (dashboard)."""
    refund = session.scalars(
        select(Refund).where(Refund.stripe_refund_id == stripe_refund["id"]).with_for_update()
    ).one_or_none()
    ours = str((stripe_refund.get("metadata") or {}).get("refund_id") or "")
    if refund is None and ours.isdigit():
        refund = session.get(Refund, int(ours), with_for_update=True)
        if refund is not None and refund.order_id != order.id:
            refund = None
    if refund is None:
        refund = Refund(
            order_id=order.id,
            amount_cents=int(stripe_refund.get("amount") or 0),
            currency=stripe_refund.get("currency") or order.currency,
            reason=stripe_refund.get("reason"),
            status=RefundStatus.PENDING,
            idempotency_key=f"stripe-{stripe_refund['id']}",
            created_by=STRIPE_ACTOR,
        )
        session.add(refund)
    refund.stripe_refund_id = stripe_refund["id"]
    return refund


def apply_stripe_refund(
    session: Session, *, order: Order, stripe_refund: dict[str, Any]
) -> int | None:
    """Stripe's view of one refund onto our row; the row's id if it succeeded just now."""
    refund = _row_for(session, order, stripe_refund)
    status = stripe_refund.get("status") or RefundStatus.PENDING
    succeeded_now = status == RefundStatus.SUCCEEDED and refund.status != status
    if status in tuple(RefundStatus) and not (status == "pending" and refund.status in FINAL):
        refund.status = status
        refund.failure_reason = stripe_refund.get("failure_reason")
    session.flush()
    return refund.id if succeeded_now else None


def record_refund(
    session: Session,
    *,
    order: Order,
    event_id: str | None,
    created: int,
    refund_id: str,
    amount: int,
    status: str,
    stripe_refund: dict[str, Any] | None = None,
) -> Settlement:
    """``refund.created`` / ``refund.updated``: one refund's latest state."""
    succeeded_now = stripe_refund and apply_stripe_refund(
        session, order=order, stripe_refund=stripe_refund
    )
    known_facts = payment_facts(order)
    refunds = dict(known_facts.get("refunds") or {})
    known = refunds.get(refund_id)
    if known is None or int(known.get("created", 0)) <= created:
        refunds[refund_id] = {"amount": int(amount), "status": status, "created": created}
    counted = sum(r["amount"] for r in refunds.values() if r["status"] == "succeeded")
    order.refunded_cents = max(order.refunded_cents, counted)
    settlement = settle(
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
    if succeeded_now:
        settlement.refunds_succeeded.append(succeeded_now)
    return settlement


def record_charge_refunded(
    session: Session,
    *,
    order: Order,
    event_id: str | None,
    created: int,
    amount_refunded: int,
    charge_id: str | None = None,
    stripe_refunds: tuple[dict[str, Any], ...] = (),
) -> Settlement:
    """``charge.refunded``: the charge's cumulative refunded amount (and its refunds, listed)."""
    applied = [apply_stripe_refund(session, order=order, stripe_refund=r) for r in stripe_refunds]
    order.refunded_cents = max(order.refunded_cents, int(amount_refunded))
    settlement = settle(
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
    settlement.refunds_succeeded.extend(row for row in applied if row is not None)
    return settlement
