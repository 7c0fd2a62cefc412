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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Counter, Histogram
from sqlalchemy import (
    Insert,
    Select,
    bindparam,
    delete,
    event,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from models import db, inventory
from models.base import utcnow
from models.carts import Cart, CartEvent, CartItem
from models.db import AppSession
from models.orders import Order, OrderEvent

logger = logging.getLogger(__name__)

CART_CLEANUP_FAILED = Counter(
    "checkout_cart_cleanup_failed_total",
    "Carts of paid orders that could not be completed at payment time (left for the job).",
)
CART_CLEANUP_RETRIES = Histogram(
    "checkout_cart_cleanup_retries",
    "Quick retries a paid order's cart needed before it was completed.",
    buckets=(0, 1, 2, 3),
)
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
CART_RETRY_DELAYS_S = (0.1, 0.2, 0.4)
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


# --- After-commit actions -------------------------------------------------------------------

_AFTER_COMMIT_KEY = "cartfleet.payments.after_commit"


def after_commit(session: Session, callback: Callable[[], object]) -> None:
    """Run ``callback`` once the caller's (outermost) transaction commits; never on rollback.

    Metrics and alerts go here so a rolled-back or retried attempt is not counted twice.
    """
    session.info.setdefault(_AFTER_COMMIT_KEY, []).append(callback)


@event.listens_for(AppSession, "after_commit")
def _run_after_commit(session: Session) -> None:
    if session.in_nested_transaction():  # releasing a savepoint is not the commit
        return
    for callback in session.info.pop(_AFTER_COMMIT_KEY, []):
        try:
            callback()
        except Exception:
            logger.exception("After-commit action failed")


@event.listens_for(AppSession, "after_rollback")
def _drop_after_rollback(session: Session) -> None:
    if not session.in_nested_transaction():
        session.info.pop(_AFTER_COMMIT_KEY, None)


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


def _event(session: Session, order: Order, kind: str, **data: Any) -> None:
    session.add(OrderEvent(order_id=order.id, kind=kind, data=data))


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
        _event(session, order, "reservation_confirmation_failed", errors=errors)
        if not had_errors:
            after_commit(session, ORDERS_WITH_RESERVATION_ERRORS.inc)
    elif had_errors:
        _set_meta(order, **{CONFIRMATION_ERRORS_KEY: None})
        _event(session, order, "reservation_confirmation_errors_cleared")


def confirm_reservations(session: Session, *, order: Order) -> list[dict[str, Any]]:
    """Confirm the order's reservations (stock sold); failures are recorded, not raised."""
    errors = inventory.confirm(session, order_id=order.id)
    record_confirmation_errors(session, order=order, errors=errors)
    if not errors:
        _event(session, order, "reservations_confirmed")
    outcome = "failed" if errors else "confirmed"
    after_commit(session, RESERVATION_CONFIRMATIONS.labels(status=outcome).inc)
    return errors


# --- Carts ----------------------------------------------------------------------------------


_CARTS = Cart.__table__
_CART_ITEMS = CartItem.__table__
_CART_EVENTS = CartEvent.__table__


def _lock_cart(*, skip_locked: bool) -> Select:
    return (
        select(_CARTS.c.status, _CARTS.c.order_id)
        .where(_CARTS.c.id == bindparam("cart_id"))
        .with_for_update(skip_locked=skip_locked)
    )


def _close_cart() -> Insert:
    """Empty the cart, mark it completed and log the event, as one statement."""
    emptied = delete(_CART_ITEMS).where(_CART_ITEMS.c.cart_id == bindparam("cart_id"))
    closed = (
        update(_CARTS)
        .where(_CARTS.c.id == bindparam("cart_id"))
        .values(
            status="completed",
            is_active=False,
            version=_CARTS.c.version + 1,
            metadata=_CARTS.c.metadata.op("||")(bindparam("completed_by", type_=JSONB)),
        )
        .returning(_CARTS.c.id)
        .cte("closed")
    )
    return (
        insert(_CART_EVENTS)
        .from_select(
            ["cart_id", "kind", "at"], select(closed.c.id, literal("completed"), func.now())
        )
        .add_cte(emptied.cte("emptied"))
    )


_LOCK_CART = {skip: _lock_cart(skip_locked=skip) for skip in (False, True)}
_CLOSE_CART = _close_cart()


def complete_cart(
    session: Session,
    *,
    cart_id: str,
    cleaned_by_job: bool = False,
    order_id: uuid.UUID | None = None,
    skip_locked: bool = False,
) -> bool:
    """Empty the cart and close it (``completed``, inactive); returns whether it changed.

    ``order_id`` completes it only while it still belongs to that order (a cart that was
    reactivated and checked out again is left alone). ``skip_locked`` returns False at
    once when another transaction holds the cart instead of waiting for it. Runs Core
    statements on the session's connection (a payment's hot path: no ORM objects, no
    autoflush of unrelated changes); a ``Cart`` loaded in ``session`` is expired.
    """
    db.flush_if_pending(session, Cart, CartItem)
    connection = session.connection()
    cart = connection.execute(_LOCK_CART[skip_locked], {"cart_id": cart_id}).one_or_none()
    if cart is None or cart.status == "completed":
        return False
    if order_id is not None and cart.order_id != order_id:
        return False
    completed_by = (
        {"completed_by": "job", "cleaned_by_job": True}
        if cleaned_by_job
        else {"completed_by": "payment"}
    )
    connection.execute(_CLOSE_CART, {"cart_id": cart_id, "completed_by": completed_by})
    db.expire_loaded(session, Cart, [cart_id])
    return True


def _cart_done_or_gone(session: Session, *, cart_id: str, order_id: uuid.UUID) -> bool:
    """Nothing left to do for this cart (someone else completed it, or it moved on)."""
    row = session.execute(
        select(Cart.status, Cart.order_id).where(Cart.id == cart_id)
    ).one_or_none()
    return row is None or row.status == "completed" or row.order_id != order_id


def complete_cart_quickly(
    session: Session,
    *,
    order: Order,
    delays: tuple[float, ...] = CART_RETRY_DELAYS_S,
) -> bool:
    """Complete the order's cart now, retrying after each of ``delays`` if it is locked.

    The cart is claimed with ``SKIP LOCKED``, so a busy cart costs no savepoint and never
    blocks the payment. Returns False when every try found it locked: the cart stays in
    ``checkout`` with a paid order for the cleanup job, and
    ``checkout_cart_cleanup_failed_total`` counts it.
    """
    if order.cart_id is None:
        return True
    for attempt in range(len(delays) + 1):
        if complete_cart(session, cart_id=order.cart_id, order_id=order.id, skip_locked=True):
            after_commit(session, lambda tries=attempt: CART_CLEANUP_RETRIES.observe(tries))
            return True
        if _cart_done_or_gone(session, cart_id=order.cart_id, order_id=order.id):
            return True
        logger.info("Cart %s busy on try %d", order.cart_id, attempt + 1)
        if attempt < len(delays):
            time.sleep(delays[attempt])
    _event(session, order, "cart_cleanup_deferred", cart_id=order.cart_id)
    after_commit(session, CART_CLEANUP_FAILED.inc)
    return False


def reactivate_cart(session: Session, *, order: Order) -> bool:
    """Give the buyer their cart back when the order's payment is canceled."""
    if order.cart_id is None:
        return False
    cart = session.get(Cart, order.cart_id, with_for_update=True, populate_existing=True)
    if cart is None or cart.status != "checkout" or cart.order_id != order.id:
        return False
    # The cart keeps pointing at the order: should the payment succeed after all, the
    # cart is completed with it; a new checkout points it at the new order.
    cart.status, cart.is_active = "active", True
    cart.version += 1
    cart.last_activity_at = utcnow()
    _event(session, order, "cart_reactivated", cart_id=cart.id)
    return True


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
    _event(session, order, kind, event_id=event_id, created=created, **details)
    if after != before:
        _event(session, order, "status_changed", event_id=event_id, **{"from": before, "to": after})

    if captures and not was_captured:
        _on_capture(session, result, was_canceled=before == "canceled")
    elif after == "canceled" and before != "canceled":
        released = inventory.release(session, order_id=order.id)
        _event(session, order, "reservations_released", count=released, reason="canceled")
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
        _event(session, order, "reservations_released", count=released, reason="refunded")
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
