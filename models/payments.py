"""What a payment does to an order, its reservations and its cart, in any arrival order.

Stripe delivers events out of order, so an order's status is never set from one event
alone. Each event adds *facts* (captured, failed, canceled, refunds seen) and proposes
the status those facts imply; the order takes whichever of its current status and the
proposed one ranks higher in ``PRECEDENCE``. Facts only grow and the join is
commutative, so every arrival order of the same events ends in the same state, and an
order never moves "backwards" (a late ``succeeded`` cannot turn a refund back into
``paid``). The side effects of the first capture (stock confirmed, cart completed,
confirmation email) run exactly once, on whichever event reveals the capture first.
See docs/webhooks.md for the full table.

Every function takes the caller's session and never commits.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Counter
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import inventory
from models.after_commit import after_commit
from models.cart_completion import complete_cart_quickly, reactivate_cart
from models.orders import Order, add_event

logger = logging.getLogger(__name__)

RESERVATION_CONFIRMATIONS = Counter(
    "checkout_reservation_confirmations_total",
    "Attempts to confirm an order's reservations, by outcome (confirmed / failed).",
    ["status"],
)
ORDERS_WITH_RESERVATION_ERRORS = Counter(
    "checkout_orders_with_reservation_errors_total",
    "Orders that got reservation-confirmation errors recorded for the retry job.",
)

# Higher wins. A failure cannot undo a capture, a capture outranks a cancel (the money
# is taken: never lose a paid order), and refunds outrank everything before them.
PRECEDENCE = {
    status: rank
    for rank, status in enumerate(
        (
            "pending_payment",
            "payment_failed",
            "canceled",
            "paid",
            "shipped",
            "partially_refunded",
            "refunded",
        )
    )
}
CAPTURED_STATUSES = ("paid", "shipped", "partially_refunded", "refunded")
CONFIRMATION_ERRORS_KEY = "reservation_confirmation_errors"
FACTS_KEY = "payment"


class PaymentEventError(Exception):
    """A payment event cannot be applied yet; the job retries it, then dead-letters it."""


class OrderNotFound(PaymentEventError):
    """No order matches the event (yet): never dropped silently."""


@dataclass
class Settlement:
    """What one payment event did to an order; the caller acts on the flags after it."""

    order: Order
    status_before: str
    status_after: str
    captured_now: bool = False
    send_confirmation: bool = False
    cart_deferred: bool = False
    confirmation_errors: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


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
    return bool(_facts(order).get("captured")) or order.status in CAPTURED_STATUSES


def _facts(order: Order) -> dict[str, Any]:
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


# --- Reservations ---------------------------------------------------------------------------


def record_confirmation_errors(
    session: Session, *, order: Order, errors: list[dict[str, Any]]
) -> None:
    """Keep the reservations that could not be confirmed on the order for the retry job.

    An empty list clears earlier errors (the retry job confirmed them).
    """
    had_errors = bool((order.meta or {}).get(CONFIRMATION_ERRORS_KEY))
    if errors:
        _set_meta(order, **{CONFIRMATION_ERRORS_KEY: errors})
        add_event(session, order, "reservation_confirmation_failed", errors=errors)
        if not had_errors:
            after_commit(session, ORDERS_WITH_RESERVATION_ERRORS.inc)
    elif had_errors:
        _set_meta(order, **{CONFIRMATION_ERRORS_KEY: None})
        add_event(session, order, "reservation_confirmation_errors_cleared")


def confirm_reservations(session: Session, *, order: Order) -> list[dict[str, Any]]:
    """Confirm the order's reservations (stock sold); failures are recorded, not raised."""
    errors = inventory.confirm(session, order_id=order.id)
    record_confirmation_errors(session, order=order, errors=errors)
    if not errors:
        add_event(session, order, "reservations_confirmed")
    outcome = "failed" if errors else "confirmed"
    after_commit(session, RESERVATION_CONFIRMATIONS.labels(status=outcome).inc)
    return errors


# --- Status ---------------------------------------------------------------------------------


def _join(current: str, proposed: str) -> str:
    return current if PRECEDENCE[current] >= PRECEDENCE[proposed] else proposed


def _refund_status(order: Order) -> str | None:
    if order.refunded_cents <= 0:
        return None
    return "refunded" if order.refunded_cents >= order.total_cents else "partially_refunded"


def _settle(
    session: Session,
    *,
    order: Order,
    kind: str,
    event_id: str | None,
    created: int,
    proposed: str | None,
    captures: bool = False,
    facts: dict[str, Any] | None = None,
    **details: Any,
) -> Settlement:
    """Merge the event's facts, move the status forward if they imply it, run the effects."""
    was_captured = is_captured(order)
    merged = {**_facts(order), **(facts or {})}
    merged["last_event_created"] = max(int(merged.get("last_event_created") or 0), created)
    if captures:
        merged["captured"] = True
    _set_meta(order, **{FACTS_KEY: merged})

    before = order.status
    after = _join(before, proposed) if proposed else before
    order.status = after
    result = Settlement(order=order, status_before=before, status_after=after)
    add_event(session, order, kind, event_id=event_id, created=created, **details)
    if after != before:
        add_event(
            session, order, "status_changed", event_id=event_id, **{"from": before, "to": after}
        )

    if captures and not was_captured:
        _on_capture(session, result, was_canceled=before == "canceled")
    elif after == "canceled" and before != "canceled":
        released = inventory.release(session, order_id=order.id)
        add_event(session, order, "reservations_released", count=released, reason="canceled")
        reactivate_cart(session, order=order)
    if after == "refunded" and before != "refunded":
        _on_full_refund(session, order)
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
    if result.status_after != "refunded":
        result.confirmation_errors = confirm_reservations(session, order=order)
        result.send_confirmation = True
    if not complete_cart_quickly(session, order=order):
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
    released = inventory.release(session, order_id=order.id)
    if released:
        add_event(session, order, "reservations_released", count=released, reason="refunded")
    if (order.meta or {}).get(CONFIRMATION_ERRORS_KEY):
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
    return _settle(
        session,
        order=order,
        kind="payment_succeeded",
        event_id=event_id,
        created=created,
        proposed="paid",
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
    return _settle(
        session,
        order=order,
        kind="payment_failed",
        event_id=event_id,
        created=created,
        proposed="payment_failed",
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
    return _settle(
        session,
        order=order,
        kind="payment_canceled",
        event_id=event_id,
        created=created,
        proposed="canceled",
        facts={"canceled": {"at": created, "reason": reason}},
        reason=reason,
    )


def cancel_order(session: Session, *, order_id: uuid.UUID, reason: str) -> bool:
    """Cancel an unpaid order (e.g. its reservation expired); returns whether it changed.

    A captured order is never canceled here: the money is taken, so it stays paid.
    """
    order = find_order(session, order_id=str(order_id))
    if is_captured(order) or order.status == "canceled":
        return False
    now = int(time.time())
    _settle(
        session,
        order=order,
        kind="order_canceled",
        event_id=None,
        created=now,
        proposed="canceled",
        facts={"canceled": {"at": now, "reason": reason}},
        reason=reason,
    )
    return True


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
    facts = _facts(order)
    refunds = dict(facts.get("refunds") or {})
    known = refunds.get(refund_id)
    if known is None or int(known.get("created", 0)) <= created:
        refunds[refund_id] = {"amount": int(amount), "status": status, "created": created}
    counted = sum(r["amount"] for r in refunds.values() if r["status"] == "succeeded")
    order.refunded_cents = max(order.refunded_cents, counted)
    return _settle(
        session,
        order=order,
        kind="refund_updated",
        event_id=event_id,
        created=created,
        proposed=_refund_status(order),
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
    return _settle(
        session,
        order=order,
        kind="charge_refunded",
        event_id=event_id,
        created=created,
        proposed=_refund_status(order),
        captures=True,
        amount_refunded=amount_refunded,
        charge=charge_id,
    )
