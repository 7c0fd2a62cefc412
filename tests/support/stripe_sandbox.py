"""Reading back what the suite's Stripe (the sandbox, ``stripe_sandbox`` fixture) holds.

Through Stripe's own API with the fleet's client, as an operator would look at the
dashboard; the sandbox's request log (``control.requests()``) records these reads too.
"""

from __future__ import annotations

import stripe

from services.stripe import stripe_client


def payment_intents() -> dict[str, stripe.PaymentIntent]:
    """Every PaymentIntent at Stripe, by id."""
    listed = stripe_client().v1.payment_intents.list(params={"limit": 100})
    return {intent.id: intent for intent in listed.auto_paging_iter()}


def payment_intent(intent_id: str) -> stripe.PaymentIntent:
    return stripe_client().v1.payment_intents.retrieve(intent_id)
