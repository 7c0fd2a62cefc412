"""Actors of the ``payments`` queue: calls to Stripe that follow from an order's status."""

from __future__ import annotations

import logging
import uuid

import dramatiq

from models.db import Session
from models.orders.status import OrderStatus
from models.orders.tables import Order
from worker import stripe
from worker.alerts import send_alert

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
