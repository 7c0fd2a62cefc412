"""Stripe events turned into payment effects: one ``case`` per handled event type.

The functions here read Stripe's wire format and call the domain operations in
``models.orders.payment_effects`` and ``models.orders.refunds``; follow-up jobs go
through the outbox in the same transaction, alerts and metrics after its commit.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy.orm import Session

from jobs.email import send_order_email
from jobs.email_kinds import refund_email_kind
from jobs.metrics import count_settlement
from models.orders import payment_effects, refunds
from models.orders.tables import Order
from worker import outbox
from worker.alerts import send_alert

HANDLED_EVENT_TYPES = frozenset(
    {
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.canceled",
        "charge.refunded",
        "refund.created",
        "refund.updated",
    }
)


def handles(event_type: str) -> bool:
    return event_type in HANDLED_EVENT_TYPES


def apply_event(session: Session, event: dict[str, Any]) -> str:
    """Apply one stored Stripe event in the caller's transaction.

    Returns the inbox status to record: ``processed``, or ``ignored`` for a type with no
    handler. Raises ``models.errors.OrderNotFound`` (retried) when no order matches yet.
    """
    obj = event["data"]["object"]
    common = {"event_id": event["id"], "created": int(event.get("created") or time.time())}
    match event["type"]:
        case "payment_intent.succeeded":
            settlement = payment_effects.record_payment_succeeded(
                session,
                order=_intent_order(session, obj),
                amount_received=obj.get("amount_received"),
                payment_intent_id=obj.get("id"),
                **common,
            )
        case "payment_intent.payment_failed":
            settlement = payment_effects.record_payment_failed(
                session,
                order=_intent_order(session, obj),
                message=(obj.get("last_payment_error") or {}).get("message"),
                **common,
            )
        case "payment_intent.canceled":
            settlement = payment_effects.record_payment_canceled(
                session,
                order=_intent_order(session, obj),
                reason=obj.get("cancellation_reason"),
                **common,
            )
        case "charge.refunded":
            settlement = refunds.record_charge_refunded(
                session,
                order=_linked_order(session, obj),
                amount_refunded=int(obj.get("amount_refunded") or 0),
                charge_id=obj.get("id"),
                stripe_refunds=tuple((obj.get("refunds") or {}).get("data") or ()),
                **common,
            )
        case "refund.created" | "refund.updated":
            settlement = refunds.record_refund(
                session,
                order=_linked_order(session, obj),
                refund_id=obj["id"],
                amount=int(obj.get("amount") or 0),
                status=obj.get("status") or "pending",
                stripe_refund=obj,
                **common,
            )
        case _:
            return "ignored"
    _follow_up(session, settlement)
    return "processed"


def _intent_order(session: Session, intent: dict[str, Any]) -> Order:
    """A PaymentIntent's order: ``metadata.order_id`` (set at checkout), else its id."""
    metadata = intent.get("metadata") or {}
    return payment_effects.find_order(
        session, order_id=metadata.get("order_id"), payment_intent_id=intent.get("id")
    )


def _linked_order(session: Session, obj: dict[str, Any]) -> Order:
    """A charge's or refund's order: by its ``payment_intent`` id (or our own metadata)."""
    metadata = obj.get("metadata") or {}
    return payment_effects.find_order(
        session, order_id=metadata.get("order_id"), payment_intent_id=obj.get("payment_intent")
    )


def _follow_up(session: Session, settlement: payment_effects.Settlement) -> None:
    order = settlement.order
    if settlement.send_confirmation:
        outbox.enqueue(session, send_order_email, str(order.id), "order_confirmation")
    for refund_id in settlement.refunds_succeeded:
        outbox.enqueue(session, send_order_email, str(order.id), refund_email_kind(refund_id))
    for title, fields in settlement.alerts:
        outbox.after_commit(session, lambda t=title, f=fields: send_alert(t, **f))
    count_settlement(session, settlement)
