"""Stripe events turned into payment effects: one ``case`` per handled event type.

The functions here read Stripe's wire format, check the event against its order
(``models.orders.payment_checks``) and call the domain operations in
``models.orders.payment_effects`` and ``models.orders.refunds``; follow-up jobs go
through the outbox in the same transaction, alerts and metrics after its commit.
"""

from __future__ import annotations

import functools
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from jobs import stripe_payloads
from jobs.email import send_order_email
from jobs.email_kinds import refund_email_kind
from jobs.metrics import count_settlement
from models.orders import payment_checks, payment_effects, refunds
from models.orders.payment_checks import Mismatch
from services import outbox
from services.alerts import send_alert

HANDLED_EVENT_TYPES = frozenset(stripe_payloads.OBJECTS)


@dataclass(frozen=True)
class NotApplied:
    """The event disagrees with its order: recorded, alerted, never retried."""

    reason: str
    order_id: uuid.UUID
    detail: str


def handles(event_type: str) -> bool:
    return event_type in HANDLED_EVENT_TYPES


def apply_event(session: Session, event: dict[str, Any]) -> str | NotApplied:
    """Apply one stored Stripe event in the caller's transaction.

    Returns the inbox status to record (``processed``, or ``ignored`` for a type with no
    handler), or ``NotApplied`` when the event disagrees with its order. Raises
    ``models.errors.OrderNotFound`` (retried) when no order matches yet.
    """
    obj = event["data"]["object"]
    common = {"event_id": event["id"], "created": int(event.get("created") or time.time())}
    metadata = obj.get("metadata") or {}
    match event["type"]:
        case (
            "payment_intent.succeeded"
            | "payment_intent.payment_failed"
            | ("payment_intent.canceled")
        ):
            order, mismatch = payment_checks.event_order(
                session, payment_intent_id=obj.get("id"), order_id=metadata.get("order_id")
            )
            mismatch = mismatch or payment_checks.check_intent(
                order,
                currency=obj.get("currency"),
                amount=obj.get("amount"),
                amount_received=obj.get("amount_received"),
                succeeded=event["type"] == "payment_intent.succeeded",
            )
        case "charge.refunded" | "refund.created" | "refund.updated":
            order, mismatch = payment_checks.event_order(
                session,
                payment_intent_id=obj.get("payment_intent"),
                order_id=metadata.get("order_id"),
            )
        case _:
            return "ignored"
    if mismatch is not None:
        return refuse(session, mismatch, event_id=event["id"], event_type=event["type"])
    match event["type"]:
        case "payment_intent.succeeded":
            settlement = payment_effects.record_payment_succeeded(
                session,
                order=order,
                amount_received=obj.get("amount_received"),
                payment_intent_id=obj.get("id"),
                **common,
            )
        case "payment_intent.payment_failed":
            settlement = payment_effects.record_payment_failed(
                session,
                order=order,
                message=(obj.get("last_payment_error") or {}).get("message"),
                **common,
            )
        case "payment_intent.canceled":
            settlement = payment_effects.record_payment_canceled(
                session, order=order, reason=obj.get("cancellation_reason"), **common
            )
        case "charge.refunded":
            amount_refunded = int(obj.get("amount_refunded") or 0)
            if mismatch := payment_checks.check_charge_refunded(
                order, currency=obj.get("currency"), amount_refunded=amount_refunded
            ):
                return refuse(session, mismatch, event_id=event["id"], event_type=event["type"])
            settlement = refunds.record_charge_refunded(
                session,
                order=order,
                amount_refunded=amount_refunded,
                charge_id=obj.get("id"),
                stripe_refunds=tuple((obj.get("refunds") or {}).get("data") or ()),
                **common,
            )
        case "refund.created" | "refund.updated":
            amount, status = int(obj.get("amount") or 0), obj.get("status") or "pending"
            if mismatch := payment_checks.check_refund(
                order,
                currency=obj.get("currency"),
                refund_id=obj["id"],
                amount=amount,
                status=status,
            ):
                return refuse(session, mismatch, event_id=event["id"], event_type=event["type"])
            settlement = refunds.record_refund(
                session,
                order=order,
                refund_id=obj["id"],
                amount=amount,
                status=status,
                stripe_refund=obj,
                **common,
            )
    follow_up(session, settlement)
    return "processed"


def refuse(
    session: Session, mismatch: Mismatch, *, event_id: str | None, event_type: str
) -> NotApplied:
    """Record on the order that the event was not applied, and alert once it commits."""
    payment_checks.record_not_applied(session, mismatch=mismatch, event_id=event_id)
    order = mismatch.order
    fields = {
        "reason": mismatch.reason,
        "event_id": event_id,
        "type": event_type,
        "order": order.order_number,
        "order_id": str(order.id),
        **mismatch.details,
    }
    outbox.after_commit(session, lambda: send_alert("Stripe event not applied", **fields))
    return NotApplied(mismatch.reason, order.id, mismatch.describe())


def follow_up(session: Session, settlement: payment_effects.Settlement) -> None:
    """The confirmation email, alerts and metrics of what a payment did to an order."""
    order = settlement.order
    if settlement.send_confirmation:
        outbox.enqueue(session, send_order_email, str(order.id), "order_confirmation")
    for refund_id in settlement.refunds_succeeded:
        outbox.enqueue(session, send_order_email, str(order.id), refund_email_kind(refund_id))
    for title, fields in settlement.alerts:
        outbox.after_commit(session, functools.partial(send_alert, title, **fields))
    count_settlement(session, settlement)
