"""Checkout actors: canceling the PaymentIntent of an order that was never paid."""

from __future__ import annotations

import logging
import uuid

import dramatiq
import stripe

from models.db import Session
from models.orders import Order
from worker.alerts import send_alert
from worker.payments import stripe_client

logger = logging.getLogger(__name__)


def idempotency_key(order_id: str) -> str:
    return f"cartfleet-cancel-pi-{order_id}"


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
        if order is None or order.status != "canceled" or not order.payment_intent_id:
            return
        intent_id = order.payment_intent_id
    client = stripe_client()
    try:
        client.v1.payment_intents.cancel(
            intent_id,
            {"cancellation_reason": "abandoned"},
            {"idempotency_key": idempotency_key(order_id)},
        )
    except stripe.InvalidRequestError:
        # Stripe refuses to cancel an intent that is already canceled or succeeded.
        status = client.v1.payment_intents.retrieve(intent_id).status
        if status == "canceled":
            return
        if status == "succeeded":
            send_alert(
                "Payment succeeded for an order canceled on reservation expiry",
                order_id=order_id,
                payment_intent_id=intent_id,
            )
            return
        raise
    logger.info("Canceled PaymentIntent %s of order %s", intent_id, order_id)
