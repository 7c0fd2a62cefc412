"""Confirming a payment intent with a test card: success, 3D Secure, or a decline.

A decline leaves the intent in ``requires_payment_method`` with ``last_payment_error``
and answers 402 ``card_error``, so the same intent can be confirmed again.
"""

from __future__ import annotations

from typing import Any, NoReturn

from devtools.stripe_sandbox import cards, charges
from devtools.stripe_sandbox.cards import Card, Outcome
from devtools.stripe_sandbox.events import emit
from devtools.stripe_sandbox.state import State
from devtools.stripe_sandbox.wire import Call, StripeError, invalid


def unexpected(intent: dict[str, Any], action: str) -> StripeError:
    """Stripe's 400 for an action the intent's status does not allow."""
    return invalid(
        f"You cannot {action} this PaymentIntent because it has a status of {intent['status']}.",
        code="payment_intent_unexpected_state",
        payment_intent=dict(intent),
    )


def confirm_with(
    call: Call, state: State, intent: dict[str, Any], method: tuple[str, Card] | None
) -> None:
    """Confirm ``intent`` with ``method``; a decline raises a 402 ``StripeError``."""
    if method is None:
        raise invalid(
            "You cannot confirm this PaymentIntent because it's missing a payment method.",
            code="payment_intent_unexpected_state",
            param="payment_method",
            payment_intent=dict(intent),
        )
    pm_id, card = method
    intent["payment_method"] = pm_id
    if card.outcome is Outcome.SUCCEEDED:
        succeed(call, state, intent, pm_id, card)
    elif card.outcome is Outcome.REQUIRES_ACTION:
        intent["status"] = "requires_action"
        intent["next_action"] = {
            "type": "use_stripe_sdk",
            "use_stripe_sdk": {
                "type": "three_d_secure_redirect",
                "stripe_js": f"/_sandbox/payment_intents/{intent['id']}/authenticate",
            },
        }
        emit(state, "payment_intent.requires_action", intent, call)
    else:
        decline(call, state, intent, pm_id, card)


def succeed(
    call: Call | None, state: State, intent: dict[str, Any], pm_id: str, card: Card
) -> None:
    charge = charges.new_charge(state, intent, pm_id, card, paid=True)
    intent.update(
        status="succeeded",
        amount_received=intent["amount"],
        latest_charge=charge["id"],
        last_payment_error=None,
        next_action=None,
    )
    emit(state, "charge.succeeded", charge, call)
    emit(state, "payment_intent.succeeded", intent, call)


def decline(
    call: Call | None, state: State, intent: dict[str, Any], pm_id: str, card: Card
) -> NoReturn:
    """Record the failed charge and raise the 402 Stripe answers a decline with."""
    charge = charges.new_charge(state, intent, pm_id, card, paid=False)
    error = {
        "type": "card_error",
        "code": card.code,
        "decline_code": card.decline_code,
        "message": card.message,
        "charge": charge["id"],
        "payment_method": state.objects[pm_id],
    }
    intent.update(
        status="requires_payment_method",
        payment_method=None,
        latest_charge=charge["id"],
        last_payment_error={k: v for k, v in error.items() if v is not None},
        next_action=None,
    )
    emit(state, "charge.failed", charge, call)
    emit(state, "payment_intent.payment_failed", intent, call)
    raise StripeError(
        402,
        "card_error",
        card.message or "Your card was declined.",
        code=card.code,
        decline_code=card.decline_code,
        charge=charge["id"],
        payment_intent=dict(intent),
        payment_method=state.objects[pm_id],
    )


def authenticate(state: State, intent: dict[str, Any], *, fail: bool = False) -> dict[str, Any]:
    """The sandbox's stand-in for the customer passing (or failing) 3D Secure."""
    if intent["status"] != "requires_action":
        raise unexpected(intent, "authenticate")
    pm_id = intent["payment_method"]
    if not fail:
        succeed(None, state, intent, pm_id, cards.card_of(state, pm_id))
        return intent
    intent.update(
        status="requires_payment_method",
        payment_method=None,
        next_action=None,
        last_payment_error={
            "type": "invalid_request_error",
            "code": "payment_intent_authentication_failure",
            "message": "The provided PaymentMethod has failed authentication.",
            "payment_method": state.objects[pm_id],
        },
    )
    emit(state, "payment_intent.payment_failed", intent)
    return intent
