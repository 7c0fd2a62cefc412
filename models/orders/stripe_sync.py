"""Orders still awaiting payment brought in line with their PaymentIntent as Stripe has it.

A webhook that never arrives must not leave a paying buyer's order unpaid or, worse,
canceled when its hold runs out. What Stripe says is applied through the webhook's own
effect functions, so the status follows the same precedence and the first capture's
effects (stock sold, cart completed, confirmation email) still run once; the timeline
gets a ``reconciled`` line. A PaymentIntent that disagrees with its order (amount,
currency) is refused like such an event (``models.orders.payment_checks``).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, ColumnExpressionArgument, Select, and_, exists, or_, select
from sqlalchemy.orm import Session

from models.orders import payment_checks, payment_effects
from models.orders.payment_checks import Mismatch
from models.orders.payment_effects import Settlement
from models.orders.status import OrderStatus
from models.orders.tables import Order
from models.orders.timeline import add_event
from models.stock.tables import Reservation, ReservationStatus

AWAITING = (OrderStatus.PENDING_PAYMENT, OrderStatus.PAYMENT_FAILED)
# Older orders are left to the webhooks and the backfill: they are no longer held.
WINDOW = dt.timedelta(days=1)


@dataclass(frozen=True)
class Reconciliation:
    """What Stripe said about one order's PaymentIntent and what that did."""

    order_id: uuid.UUID
    stripe_status: str
    settlement: Settlement | None = None
    mismatch: Mismatch | None = None


def _hold_ends_by(moment: dt.datetime) -> ColumnElement[bool]:
    """SQL: the order holds stock that an expiry at ``moment`` would release."""
    return exists().where(
        and_(
            Reservation.order_id == Order.id,
            Reservation.status == ReservationStatus.ACTIVE,
            Reservation.expires_at <= moment,
        )
    )


def _awaiting(
    *conditions: ColumnExpressionArgument[bool], limit: int | None
) -> Select[*tuple[Any, ...]]:
    return (
        select(Order.id, Order.payment_intent_id)
        .where(Order.status.in_(AWAITING), Order.payment_intent_id.is_not(None), *conditions)
        .order_by(Order.created_at)
        .limit(limit)
    )


def orders_to_reconcile(
    session: Session,
    *,
    now: dt.datetime,
    pending_after: dt.timedelta,
    expiring_within: dt.timedelta,
    limit: int = 100,
) -> list[tuple[uuid.UUID, str]]:
    """(order id, PaymentIntent id) of orders unpaid past ``pending_after``, or whose hold
    ends within ``expiring_within``."""
    recent = Order.created_at >= now - WINDOW
    due = or_(Order.created_at <= now - pending_after, _hold_ends_by(now + expiring_within))
    return [tuple(row) for row in session.execute(_awaiting(recent, due, limit=limit))]


def expiring_orders(
    session: Session, *, now: dt.datetime, limit: int | None = 100
) -> list[tuple[uuid.UUID, str]]:
    """(order id, PaymentIntent id) of unpaid orders with a hold that has run out: the
    expiry job would release it, so Stripe is asked first."""
    return [tuple(row) for row in session.execute(_awaiting(_hold_ends_by(now), limit=limit))]


def apply_intent(
    session: Session, *, order_id: uuid.UUID, intent: dict[str, Any]
) -> Reconciliation:
    """Apply the retrieved PaymentIntent ``intent`` to its order, if it still awaits payment.

    succeeded → paid, canceled → canceled, requires_payment_method after a failure →
    payment_failed; any other status (still in progress) changes nothing.
    """
    status = intent.get("status") or ""
    result = Reconciliation(order_id, status)
    order = session.get(Order, order_id, with_for_update=True, populate_existing=True)
    if order is None or order.status not in AWAITING or order.payment_intent_id != intent["id"]:
        return result
    if mismatch := payment_checks.check_intent(
        order,
        currency=intent.get("currency"),
        amount=intent.get("amount"),
        amount_received=intent.get("amount_received"),
        succeeded=status == "succeeded",
    ):
        return Reconciliation(order_id, status, mismatch=mismatch)
    created = int(time.time())
    failed_now = (
        bool(intent.get("last_payment_error")) and order.status != OrderStatus.PAYMENT_FAILED
    )
    match status:
        case "succeeded":
            settlement = payment_effects.record_payment_succeeded(
                session,
                amount_received=intent.get("amount_received"),
                payment_intent_id=intent["id"],
                order=order,
                event_id=None,
                created=created,
            )
        case "canceled":
            settlement = payment_effects.record_payment_canceled(
                session,
                reason=intent.get("cancellation_reason"),
                order=order,
                event_id=None,
                created=created,
            )
        case "requires_payment_method" if failed_now:
            settlement = payment_effects.record_payment_failed(
                session,
                message=intent["last_payment_error"].get("message"),
                order=order,
                event_id=None,
                created=created,
            )
        case _:
            return result
    add_event(
        session,
        order,
        "reconciled",
        payment_intent=intent["id"],
        payment_intent_status=status,
        **{"from": settlement.status_before, "to": settlement.status_after},
    )
    return Reconciliation(order_id, status, settlement=settlement)
