"""Confirming a payment intent with a test card: success, 3D Secure, or a decline.

A decline leaves the intent in ``requires_payment_method`` with ``last_payment_error``
and answers 402 ``card_error``, so the same intent can be confirmed again.
"""

from __future__ import annotations

import uuid
from typing import Any, NoReturn
from urllib.parse import urlencode

from devtools.stripe_sandbox import cards, charges
from devtools.stripe_sandbox.cards import Card, Outcome
from devtools.stripe_sandbox.events import emit
from devtools.stripe_sandbox.state import State
from devtools.stripe_sandbox.wire import Call, StripeError, invalid

# What a charge's card details say of a passed 3D Secure challenge.
_AUTHENTICATED = {
    "authentication_flow": "challenge",
    "electronic_commerce_indicator": "05",
    "exemption_indicator": None,
    "result": "authenticated",
    "result_reason": None,
    "transaction_id": None,
    "version": "2.2.0",
}


def unexpected(intent: dict[str, Any], action: str) -> StripeError:
    """Stripe's 400 for an action the intent's status does not allow."""
    return invalid(
        f"You cannot {action} this PaymentIntent because it has a status of {intent['status']}.",
        code="payment_intent_unexpected_state",
        payment_intent=dict(intent),
    )


def confirm_with(
    call: Call,
    state: State,
    intent: dict[str, Any],
    method: tuple[str, Card] | None,
    *,
    return_url: str | None = None,
    use_stripe_sdk: bool = False,
    setup_future_usage: str | None = None,
) -> None:
    """Confirm ``intent`` with ``method``; a decline raises a 402 ``StripeError``.

    A card that asks for 3D Secure leaves the intent in ``requires_action``: with a
    ``return_url`` (and not ``use_stripe_sdk``, Stripe.js's own flow) its ``next_action``
    is a ``redirect_to_url`` to the sandbox's authentication page, which sends the buyer
    back to ``return_url``; otherwise ``use_stripe_sdk``, naming the same page.
    """
    if method is None:
        raise invalid(
            "You cannot confirm this PaymentIntent because it's missing a payment method.",
            code="payment_intent_unexpected_state",
            param="payment_method",
            payment_intent=dict(intent),
        )
    pm_id, card = method
    intent["payment_method"] = pm_id
    if setup_future_usage is not None:
        intent["setup_future_usage"] = setup_future_usage
    if card.outcome is Outcome.SUCCEEDED:
        succeed(call, state, intent, pm_id, card)
    elif card.outcome is Outcome.REQUIRES_ACTION:
        intent["status"] = "requires_action"
        page = authentication_url(state, intent)
        intent["next_action"] = (
            {
                "type": "redirect_to_url",
                "redirect_to_url": {"return_url": return_url, "url": page},
            }
            if return_url and not use_stripe_sdk
            else {
                "type": "use_stripe_sdk",
                "use_stripe_sdk": {"type": "three_d_secure_redirect", "stripe_js": page},
            }
        )
        emit(state, "payment_intent.requires_action", intent, call)
    else:
        decline(call, state, intent, pm_id, card)


def authentication_url(state: State, intent: dict[str, Any]) -> str:
    """The sandbox page where the buyer passes or fails 3D Secure (pages.py).

    The client secret in it is what lets the page act on this intent, as in Stripe's.
    """
    query = urlencode({"client_secret": intent["client_secret"]})
    return f"{state.base_url}/_sandbox/3ds/{intent['id']}?{query}"


def succeed(
    call: Call | None,
    state: State,
    intent: dict[str, Any],
    pm_id: str,
    card: Card,
    *,
    three_d_secure: dict[str, Any] | None = None,
) -> None:
    charge = charges.new_charge(
        state, intent, pm_id, card, paid=True, three_d_secure=three_d_secure
    )
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
        card = cards.card_of(state, pm_id)
        passed = {**_AUTHENTICATED, "transaction_id": str(uuid.uuid4())}
        succeed(None, state, intent, pm_id, card, three_d_secure=passed)
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
