"""The shared Stripe client talks Stripe's wire format to the configured API base."""

from __future__ import annotations

import pytest
import stripe

from services.stripe import stripe_client
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
