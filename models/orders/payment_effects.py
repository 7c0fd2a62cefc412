"""What a payment does to an order, its reservations and its cart, in any arrival order.

Stripe delivers events out of order, so an order's status is never set from one event
alone. Each event adds *facts* (captured, failed, canceled, refunds seen) and proposes
the status those facts imply; ``status.transition`` keeps whichever ranks higher. Facts
only grow and the join is commutative, so every arrival order of the same events ends
in the same state. The side effects of the first capture (stock confirmed, cart
completed, confirmation email) run exactly once, on whichever event reveals the capture
first; those of a cancel (stock, discount code and cart given back) once, on the move to
``canceled``. See docs/webhooks.md for the full table.

Every function takes the caller's session and never commits; what happened is returned
as a ``Settlement`` for the caller to act on (email, alerts, metrics).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.carts.lifecycle import complete_cart_quickly
from models.errors import OrderNotFound
from models.orders import settlement_write
from models.orders.checkout import release_checkout
from models.orders.status import CAPTURED, OrderStatus, transition
from models.orders.stock_confirmation import confirm_reservations, record_confirmation_errors
from models.orders.tables import Order
from models.orders.timeline import add_event, collecting
from models.stock import reservations

logger = logging.getLogger(__name__)

FACTS_KEY = "payment"


@dataclass
class Settlement:
    """What one payment event did to an order; the caller acts on the flags after it."""

    order: Order
    status_before: str
    status_after: str
    captured_now: bool = False
    send_confirmation: bool = False
    # Stock confirmation at capture: "confirmed" / "failed" (None: not attempted).
    confirmation: str | None = None
    confirmation_errors: list[dict[str, Any]] = field(default_factory=list)
    errors_recorded_now: bool = False
    # Cart completion at capture: quick retries it took, or deferred to the cleanup job.
    cart_retries: int | None = None
    cart_deferred: bool = False
    alerts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # Our refund rows that Stripe's event turned ``succeeded`` (each gets its email).
    refunds_succeeded: list[int] = field(default_factory=list)


# --- Finding and reading orders -------------------------------------------------------------


def find_order(
    session: Session, *, order_id: str | None = None, payment_intent_id: str | None = None
) -> Order:
    """The order an event is about, locked; by ``order_id`` first, else by PaymentIntent id."""
    order = None
    if order_id:
        try:
            key = uuid.UUID(str(order_id))
        except ValueError:
            key = None
        if key is not None:
            order = session.get(Order, key, with_for_update=True, populate_existing=True)
    if order is None and payment_intent_id:
        order = session.scalars(
            select(Order)
            .where(Order.payment_intent_id == payment_intent_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one_or_none()
    if order is None:
        raise OrderNotFound(
            f"no order for order_id={order_id!r} payment_intent={payment_intent_id!r}"
        )
    return order


def is_captured(order: Order) -> bool:
    return bool(payment_facts(order).get("captured")) or order.status in CAPTURED


def payment_facts(order: Order) -> dict[str, Any]:
    return dict((order.meta or {}).get(FACTS_KEY) or {})


def _set_meta(order: Order, **values: Any) -> None:
    # JSONB columns are not mutation-tracked: assign a new dict.
    meta = dict(order.meta or {})
    for key, value in values.items():
        if value is None:
            meta.pop(key, None)
        else:
            meta[key] = value
    order.meta = meta


def _at(created: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(created, dt.UTC)


# --- Status ---------------------------------------------------------------------------------


def refund_status(order: Order) -> OrderStatus | None:
    if order.refunded_cents <= 0:
        return None
    if order.refunded_cents >= order.total_cents:
        return OrderStatus.REFUNDED
    return OrderStatus.PARTIALLY_REFUNDED


def settle(
    session: Session,
    *,
    order: Order,
    kind: str,
    event_id: str | None,
    created: int,
    proposed: OrderStatus | None,
    captures: bool = False,
    facts: dict[str, Any] | None = None,
    **details: Any,
) -> Settlement:
    """Merge the event's facts, move the status forward if they imply it, run the effects.

    Shared by every payment event (and refunds, ``models.orders.refunds``). The order's
    status, facts, ``paid_at`` and refunded amount and the timeline lines of the
    settlement are written together by one statement (``settlement_write``).
    """
    with collecting(session, order) as lines:
        was_captured = is_captured(order)
        merged = {**payment_facts(order), **(facts or {})}
        merged["last_event_created"] = max(int(merged.get("last_event_created") or 0), created)
        if captures:
            merged["captured"] = True
        _set_meta(order, **{FACTS_KEY: merged})

        before = order.status
        add_event(session, order, kind, event_id=event_id, created=created, **details)
        if proposed:
            transition(session, order, proposed, event_id=event_id)
        after = order.status
        result = Settlement(order=order, status_before=before, status_after=after)

        if captures and not was_captured:
            _on_capture(session, result, was_canceled=before == OrderStatus.CANCELED)
        elif after == OrderStatus.CANCELED and before != OrderStatus.CANCELED:
            release_checkout(session, order=order, reason=kind)
        if after == OrderStatus.REFUNDED and before != OrderStatus.REFUNDED:
            _on_full_refund(session, order)
    settlement_write.write(session, order=order, lines=lines)
    return result


def _on_capture(session: Session, result: Settlement, *, was_canceled: bool) -> None:
    """The money is taken: sell the stock, close the cart, confirm to the buyer (once)."""
    order = result.order
    result.captured_now = True
    if was_canceled:
        result.alerts.append(
            (
                "Payment captured for a canceled order",
                {"order": order.order_number, "order_id": str(order.id)},
            )
        )
    if result.status_after != OrderStatus.REFUNDED:
        confirmation = confirm_reservations(session, order=order)
        result.confirmation = "failed" if confirmation.errors else "confirmed"
        result.confirmation_errors = confirmation.errors
        result.errors_recorded_now = confirmation.errors_recorded_now
        result.send_confirmation = True
    result.cart_retries = (
        complete_cart_quickly(session, cart_id=order.cart_id, order_id=order.id)
        if order.cart_id
        else 0
    )
    if result.cart_retries is None:
        add_event(session, order, "cart_cleanup_deferred", cart_id=order.cart_id)
        result.cart_deferred = True
        result.alerts.append(
            (
                "Cart of a paid order left for the cleanup job",
                {"order": order.order_number, "cart_id": order.cart_id},
            )
        )


def _on_full_refund(session: Session, order: Order) -> None:
    """Nothing will ship: free what is still held and stop retrying confirmations.

    Stock already confirmed stays sold; restocking refunded goods is a warehouse decision.
    """
    released = reservations.release(session, order_id=order.id)
    if released:
        add_event(session, order, "reservations_released", count=released, reason="refunded")
    if order.confirmation_errors:
        record_confirmation_errors(session, order=order, errors=[])


# --- One function per payment event ---------------------------------------------------------


def record_payment_succeeded(
    session: Session,
    *,
    order: Order,
    event_id: str | None,
    created: int,
    amount_received: int | None = None,
    payment_intent_id: str | None = None,
) -> Settlement:
    """``payment_intent.succeeded``: the order is paid (unless a later state already holds)."""
    if order.paid_at is None:
        order.paid_at = _at(created)
    return settle(
        session,
        order=order,
        kind="payment_succeeded",
        event_id=event_id,
        created=created,
        proposed=OrderStatus.PAID,
        captures=True,
        amount_received=amount_received,
        payment_intent=payment_intent_id,
    )


def record_payment_failed(
    session: Session,
    *,
    order: Order,
    event_id: str | None,
    created: int,
    message: str | None = None,
) -> Settlement:
    """``payment_intent.payment_failed``: the reservation is kept so the buyer can retry."""
    return settle(
        session,
        order=order,
        kind="payment_failed",
        event_id=event_id,
        created=created,
        proposed=OrderStatus.PAYMENT_FAILED,
        facts={"failed_at": created},
        message=message,
    )


def record_payment_canceled(
    session: Session,
    *,
    order: Order,
    event_id: str | None,
    created: int,
    reason: str | None = None,
) -> Settlement:
    """``payment_intent.canceled``: reservations released, cart active again."""
    return settle(
        session,
        order=order,
        kind="payment_canceled",
        event_id=event_id,
        created=created,
        proposed=OrderStatus.CANCELED,
        facts={"canceled": {"at": created, "reason": reason}},
        reason=reason,
    )


def cancel_order(session: Session, *, order_id: uuid.UUID, reason: str) -> bool:
    """Cancel an unpaid order (e.g. its reservation expired); returns whether it changed.

    A captured order is never canceled here: the money is taken, so it stays paid.
    """
    order = find_order(session, order_id=str(order_id))
    if is_captured(order) or order.status == OrderStatus.CANCELED:
        return False
    now = int(time.time())
    settle(
        session,
        order=order,
        kind="order_canceled",
        event_id=None,
        created=now,
        proposed=OrderStatus.CANCELED,
        facts={"canceled": {"at": now, "reason": reason}},
        reason=reason,
    )
    return True
