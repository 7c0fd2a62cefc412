"""Every Stripe event is checked against its order before it may change anything.

A PaymentIntent event applies only to the order that owns that PaymentIntent id, and
only when its currency and amounts agree with the order; a refund only to the order of
its PaymentIntent, and only while the refunds add up to at most what was captured. An
event that disagrees is never applied: the caller records it ``failed`` with the
reason, the order's timeline says so (``payment_event_not_applied``) and an alert goes
out. Stripe's own word (a retrieved PaymentIntent) is checked the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from models.inbox import AMOUNT_MISMATCH, CURRENCY_MISMATCH, PAYMENT_INTENT_MISMATCH
from models.orders.payment_effects import find_order, payment_facts
from models.orders.tables import Order
from models.orders.timeline import add_event


@dataclass(frozen=True)
class Mismatch:
    """Why an event about ``order`` is not applied, and the values that disagree."""

    order: Order
    reason: str
    details: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        values = ", ".join(f"{name}={value}" for name, value in self.details.items())
        return f"{self.reason}: {values}"


def event_order(
    session: Session, *, payment_intent_id: str | None, order_id: str | None
) -> tuple[Order, Mismatch | None]:
    """The order an event names, locked, and a mismatch if it does not own the intent.

    ``metadata.order_id`` (set by checkout) names the order; when it is absent or
    unknown, the PaymentIntent id alone finds its owner. An order named by metadata that
    does not own the event's PaymentIntent (another order's, a made-up one, none
    attached yet) is a ``payment_intent_mismatch``. Raises ``OrderNotFound`` (retried)
    when neither finds an order.
    """
    order = find_order(session, order_id=order_id, payment_intent_id=payment_intent_id)
    if payment_intent_id and order.payment_intent_id == payment_intent_id:
        return order, None
    return order, Mismatch(
        order,
        PAYMENT_INTENT_MISMATCH,
        {
            "event_payment_intent": payment_intent_id,
            "order_payment_intent": order.payment_intent_id,
        },
    )


def check_currency(order: Order, currency: str | None) -> Mismatch | None:
    if currency is not None and currency.lower() != order.currency.lower():
        return Mismatch(
            order, CURRENCY_MISMATCH, {"event_currency": currency, "order_currency": order.currency}
        )
    return None


def check_intent(
    order: Order,
    *,
    currency: str | None,
    amount: int | None,
    amount_received: int | None,
    succeeded: bool,
) -> Mismatch | None:
    """A PaymentIntent of the order's currency and total; a success received the total."""
    if mismatch := check_currency(order, currency):
        return mismatch
    if amount is not None and int(amount) != order.total_cents:
        return Mismatch(order, AMOUNT_MISMATCH, {"amount": amount, "total": order.total_cents})
    if succeeded and int(amount_received or 0) != order.total_cents:
        return Mismatch(
            order,
            AMOUNT_MISMATCH,
            {"amount_received": amount_received, "total": order.total_cents},
        )
    return None


def check_charge_refunded(
    order: Order, *, currency: str | None, amount_refunded: int
) -> Mismatch | None:
    """A charge never refunds more than the order's captured total."""
    if mismatch := check_currency(order, currency):
        return mismatch
    if amount_refunded > order.total_cents:
        return Mismatch(
            order, AMOUNT_MISMATCH, {"amount_refunded": amount_refunded, "total": order.total_cents}
        )
    return None


def check_refund(
    order: Order, *, currency: str | None, refund_id: str, amount: int, status: str
) -> Mismatch | None:
    """The succeeded refunds of an order, this one included, add up to at most its total."""
    if mismatch := check_currency(order, currency):
        return mismatch
    refunds = dict(payment_facts(order).get("refunds") or {})
    refunds.pop(refund_id, None)
    counted = sum(int(r["amount"]) for r in refunds.values() if r["status"] == "succeeded")
    if amount > order.total_cents or (
        status == "succeeded" and counted + amount > order.total_cents
    ):
        return Mismatch(
            order,
            AMOUNT_MISMATCH,
            {
                "refund": refund_id,
                "amount": amount,
                "refunded": counted,
                "total": order.total_cents,
            },
        )
    return None


def record_not_applied(session: Session, *, mismatch: Mismatch, event_id: str | None) -> None:
    """Write on the order's timeline that an event about it was refused, and why."""
    add_event(
        session,
        mismatch.order,
        "payment_event_not_applied",
        event_id=event_id,
        reason=mismatch.reason,
        **mismatch.details,
    )
