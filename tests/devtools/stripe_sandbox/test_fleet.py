"""The fleet's own Stripe client and webhook verifier work against the sandbox unchanged."""

from __future__ import annotations

import pytest

from services import stripe
from services.settings import get_settings
from services.stripe import stripe_client, verify_signature

SECRET = "whsec_test_primary"  # the first of tests/conftest.py's STRIPE_WEBHOOK_SECRET


@pytest.fixture
def fleet_client(sandbox, monkeypatch):
    monkeypatch.setenv("STRIPE_API_BASE", sandbox.url)
    get_settings.cache_clear()
    stripe_client.cache_clear()
    yield stripe_client()
    monkeypatch.delenv("STRIPE_API_BASE")
    get_settings.cache_clear()
    stripe_client.cache_clear()


def test_checkout_then_cancel_as_the_fleet_calls_them(fleet_client, control):
    control.fail_next_requests(1)  # the client's network retry resends with its key

    intent = stripe.create_payment_intent(
        order_id="o-7", order_number="CF-7", cart_id=None, amount=4900, currency="usd"
    )
    status = stripe.cancel_payment_intent(intent.id, order_id="o-7")

    assert [r["status"] for r in control.requests()] == [500, 200, 200]
    assert len(fleet_client.v1.payment_intents.list().data) == 1
    assert status == "canceled"
    assert fleet_client.v1.payment_intents.retrieve(intent.id).cancellation_reason == "abandoned"


def test_webhooks_pass_the_fleets_signature_check(fleet_client, control, receiver):
    control.add_webhook(receiver.url, SECRET)
    fleet_client.v1.payment_intents.create(params={"amount": 900, "currency": "usd"})

    receiver.wait_for(1)
    body, headers = receiver.calls[0]

    # Raises SignatureError unless the sandbox signs as Stripe does.
    verify_signature(body, headers["Stripe-Signature"], get_settings().stripe_webhook_secret)
