"""Actors of the ``payments`` queue: calls to Stripe that follow from an order's status."""

from __future__ import annotations

import functools
import logging
import uuid

import dramatiq

from models.db import Session
from models.orders import refunds
from models.orders.status import OrderStatus
from models.orders.tables import Order
from services import stripe
from services.alerts import send_alert

logger = logging.getLogger(__name__)


@dramatiq.actor(
    actor_name="cancel_payment_intent",
    queue_name="payments",
    max_retries=10,
    min_backoff=5_000,
    max_backoff=3_600_000,
    time_limit=60_000,
)
def cancel_payment_intent(order_id: str) -> None:
    """Cancel the PaymentIntent of a canceled order at Stripe (idempotent).

    Does nothing unless the order is canceled. If the intent already succeeded (the
    customer paid as the reservation ran out) it is left alone and an alert goes out:
    the payment webhook decides what happens to that order.
    """
    with Session() as session:
        order = session.get(Order, uuid.UUID(order_id))
        if order is None or order.status != OrderStatus.CANCELED or not order.payment_intent_id:
            return
        intent_id = order.payment_intent_id
    status = stripe.cancel_payment_intent(intent_id, order_id=order_id)
    if status == "succeeded":
        send_alert(
            "Payment succeeded for an order canceled on reservation expiry",
            order_id=order_id,
            payment_intent_id=intent_id,
        )
        return
    logger.info("PaymentIntent %s of order %s is canceled", intent_id, order_id)


@dramatiq.actor(
    actor_name="refund_order",
    queue_name="payments",
    max_retries=10,
    min_backoff=5_000,
    max_backoff=3_600_000,
    time_limit=60_000,
)
def refund_order(refund_id: int) -> None:
    """Make a pending refund at Stripe, with the idempotency key stored on its row.

    Safe to run again at any point: before Stripe answered, the same key makes Stripe
    answer the refund it already made; after, the row already has its Stripe id. The
    row's final status comes from Stripe's webhooks (``models.orders.refunds``).
    """
    with Session() as session:
        refund = session.get(refunds.Refund, refund_id)
        if refund is None or refund.status != refunds.RefundStatus.PENDING:
            return
        if refund.stripe_refund_id is not None:
            return
        order = session.get_one(Order, refund.order_id)
        if order.payment_intent_id is None:
            # Refunds are recorded against paid orders only, which hold their PaymentIntent.
            raise AssertionError(f"refund {refund_id} is for order {order.id} without a payment")
        create_refund = functools.partial(
            stripe.create_refund,
            payment_intent_id=order.payment_intent_id,
            amount=refund.amount_cents,
            reason=refund.reason or "requested_by_customer",
            idempotency_key=refund.idempotency_key,
            metadata={"order_id": str(order.id), "refund_id": str(refund.id)},
        )
    try:
        made = create_refund()
    except stripe.RefundRefused as error:
        with Session.begin() as session:
            refunds.mark_refund_failed(session, refund_id=refund_id, reason=str(error))
        send_alert("Stripe refused a refund", refund_id=refund_id, reason=str(error))
        return
    with Session.begin() as session:
        refunds.attach_stripe_refund(session, refund_id=refund_id, stripe_refund_id=made.id)
    logger.info("Refund %s is %s at Stripe as %s", refund_id, made.status, made.id)
