"""The shared Stripe client talks Stripe's wire format to the configured API base."""

from __future__ import annotations

import pytest
import stripe

from worker.stripe import stripe_client


def test_payment_intent_round_trip_with_idempotency(fake_stripe):
    params = {"amount": 2500, "currency": "usd", "metadata": {"order_id": "o-1"}}
    first = stripe_client().v1.payment_intents.create(
        params=params, options={"idempotency_key": "order-o-1"}
    )
    again = stripe_client().v1.payment_intents.create(
        params=params, options={"idempotency_key": "order-o-1"}
    )

    assert first.id == again.id
    assert first.metadata["order_id"] == "o-1"
    assert len(fake_stripe.payment_intents) == 1
    canceled = stripe_client().v1.payment_intents.cancel(first.id)
    assert canceled.status == "canceled"


def test_stripe_failure_raises_a_stripe_error(fake_stripe):
    fake_stripe.fail_next = 5
    with pytest.raises(stripe.StripeError):
        stripe_client().v1.payment_intents.create(params={"amount": 100, "currency": "usd"})
