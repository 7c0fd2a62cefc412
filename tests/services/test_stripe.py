"""The shared Stripe client talks Stripe's wire format to the configured API base."""

from __future__ import annotations

import pytest
import stripe

from services.stripe import create_payment_intent, stripe_client
from tests.support.stripe_sandbox import payment_intents


def test_payment_intent_round_trip_with_idempotency(stripe_sandbox):
    params = {"amount": 2500, "currency": "usd", "metadata": {"order_id": "o-1"}}
    first = stripe_client().v1.payment_intents.create(
        params=params, options={"idempotency_key": "order-o-1"}
    )
    again = stripe_client().v1.payment_intents.create(
        params=params, options={"idempotency_key": "order-o-1"}
    )

    assert first.id == again.id
    assert first.metadata["order_id"] == "o-1"
    assert len(payment_intents()) == 1
    canceled = stripe_client().v1.payment_intents.cancel(first.id)
    assert canceled.status == "canceled"


def test_stripe_failure_raises_a_stripe_error(stripe_sandbox):
    stripe_sandbox.control.fail_next_requests(5)
    with pytest.raises(stripe.StripeError):
        stripe_client().v1.payment_intents.create(params={"amount": 100, "currency": "usd"})


def test_create_payment_intent_reads_the_answer_and_keeps_the_key(stripe_sandbox):
    fields = {"order_number": "CF-1", "cart_id": "c-1", "amount": 2500, "currency": "usd"}
    first = create_payment_intent(order_id="o-2", **fields)
    again = create_payment_intent(order_id="o-2", **fields)

    assert again == first
    stored = payment_intents()[first.id]
    assert (first.client_secret, first.status) == (stored.client_secret, stored.status)
    assert stored.amount == 2500
    assert stored.metadata.to_dict() == {
        "order_id": "o-2",
        "order_number": "CF-1",
        "cart_id": "c-1",
    }
    assert stored.automatic_payment_methods.enabled is True


def test_create_payment_intent_retries_then_raises_a_stripe_error(stripe_sandbox):
    stripe_sandbox.control.fail_next_requests(1)  # within the client's retries
    intent = create_payment_intent(
        order_id="o-3", order_number="CF-3", cart_id=None, amount=100, currency="usd"
    )
    assert payment_intents()[intent.id].metadata["order_id"] == "o-3"

    stripe_sandbox.control.fail_next_requests(5)
    with pytest.raises(stripe.StripeError):
        create_payment_intent(
            order_id="o-4", order_number="CF-4", cart_id=None, amount=100, currency="usd"
        )
