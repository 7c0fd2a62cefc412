"""Refunds seen on Stripe (``refund.updated``, ``charge.refunded``) applied to an order.

Only succeeded refunds count; the order's refunded total never shrinks, and the status
follows from it through ``payment_effects.settle`` like every other payment fact.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from models.orders.payment_effects import Settlement, payment_facts, refund_status, settle
from models.orders.tables import Order


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
