"""Stripe's test payment methods and what confirming with each of them does."""

from __future__ import annotations

import base64
import dataclasses
import enum
import hashlib
from dataclasses import dataclass
from typing import Any

from devtools.stripe_sandbox.state import State, new_id
from devtools.stripe_sandbox.wire import Call, StripeError, check_known, missing, param_error


class Outcome(enum.StrEnum):
    SUCCEEDED = "succeeded"
    DECLINED = "declined"
    REQUIRES_ACTION = "requires_action"


@dataclass(frozen=True)
class Card:
    number: str
    brand: str
    outcome: Outcome = Outcome.SUCCEEDED
    code: str | None = None
    decline_code: str | None = None
    message: str | None = None


_DECLINED = "Your card was declined."
CARDS: dict[str, Card] = {
    "pm_card_visa": Card("4242424242424242", "visa"),
    "pm_card_mastercard": Card("5555555555554444", "mastercard"),
    "pm_card_amex": Card("378282246310005", "amex"),
    "pm_card_chargeDeclined": Card(
        "4000000000000002", "visa", Outcome.DECLINED, "card_declined", "generic_decline", _DECLINED
    ),
    "pm_card_chargeDeclinedInsufficientFunds": Card(
        "4000000000009995",
        "visa",
        Outcome.DECLINED,
        "card_declined",
        "insufficient_funds",
        "Your card has insufficient funds.",
    ),
    "pm_card_chargeDeclinedExpiredCard": Card(
        "4000000000000069", "visa", Outcome.DECLINED, "expired_card", None, "Your card has expired."
    ),
    "pm_card_chargeDeclinedIncorrectCvc": Card(
        "4000000000000127",
        "visa",
        Outcome.DECLINED,
        "incorrect_cvc",
        None,
        "Your card's security code is incorrect.",
    ),
    "pm_card_authenticationRequired": Card("4000002760003184", "visa", Outcome.REQUIRES_ACTION),
    "pm_card_threeDSecure2Required": Card("4000000000003220", "visa", Outcome.REQUIRES_ACTION),
    "pm_card_authenticationRequiredOnSetup": Card(
        "4000002500003155", "visa", Outcome.REQUIRES_ACTION
    ),
}
_ADDRESS = ("city", "country", "line1", "line2", "postal_code", "state")
_BY_NUMBER = {card.number: card for card in CARDS.values()}
# Real card numbers are refused in test mode, as Stripe does.
_LIVE_CARD = Card(
    "",
    "visa",
    Outcome.DECLINED,
    "card_declined",
    "test_mode_live_card",
    "Your card was declined. Your request was in test mode, but used a non test card.",
)


def _luhn(number: str) -> bool:
    digits = [int(d) for d in reversed(number)]
    total = sum(digits[0::2]) + sum(sum(divmod(2 * d, 10)) for d in digits[1::2])
    return total % 10 == 0


def card_for_number(number: str, param: str) -> Card:
    """The test card with this number; raises Stripe's ``incorrect_number`` if it is not one."""
    number = number.replace(" ", "")
    if not number.isdigit() or not 12 <= len(number) <= 19 or not _luhn(number):
        raise StripeError(
            402,
            "card_error",
            "Your card number is incorrect.",
            code="incorrect_number",
            param=param,
        )
    if number in _BY_NUMBER:
        return _BY_NUMBER[number]
    return dataclasses.replace(_LIVE_CARD, number=number, brand="visa")


def _fingerprint(number: str) -> str:
    # Stripe gives a card number the same fingerprint each time it is seen.
    digest = hashlib.sha256(f"sandbox-card:{number}".encode()).digest()
    return base64.b64encode(digest, altchars=b"Ab").decode()[:16]


def payment_method_object(pm_id: str, card: Card, created: int) -> dict[str, Any]:
    return {
        "id": pm_id,
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": {
            "address": dict.fromkeys(_ADDRESS),
            "email": None,
            "name": None,
            "phone": None,
            "tax_id": None,
        },
        "card": {
            "brand": card.brand,
            "checks": {
                "address_line1_check": None,
                "address_postal_code_check": None,
                "cvc_check": "unchecked",
            },
            "country": "US",
            "display_brand": card.brand,
            "exp_month": 12,
            "exp_year": 2034,
            "fingerprint": _fingerprint(card.number),
            "funding": "credit",
            "generated_from": None,
            "last4": card.number[-4:],
            "networks": {"available": [card.brand], "preferred": None},
            "regulated_status": "unregulated",
            "three_d_secure_usage": {"supported": True},
            "wallet": None,
        },
        "created": created,
        "customer": None,
        "customer_account": None,
        "livemode": False,
        "metadata": {},
        "type": "card",
    }


def card_from_data(data: Any) -> Card:
    """The card of ``payment_method_data[type]=card&payment_method_data[card][number]=...``."""
    if not isinstance(data, dict) or data.get("type") != "card":
        raise param_error("The sandbox only knows card payment methods.", "type")
    number = (data.get("card") or {}).get("number")
    if not number:
        raise param_error(
            "Missing required param: card[number].", "card[number]", "parameter_missing"
        )
    return card_for_number(number, "card[number]")


def resolve(state: State, params: dict[str, Any]) -> tuple[str, Card] | None:
    """The payment method named by ``payment_method`` or described by ``payment_method_data``.

    A test token (``pm_card_visa``) or card number makes a new ``pm_`` object, as
    Stripe does; a ``pm_`` id made earlier is looked up.
    """
    if "payment_method_data" in params:
        card = card_from_data(params["payment_method_data"])
        return _store(state, card), card
    name = params.get("payment_method")
    if not name:
        return None
    if name in CARDS:
        return _store(state, CARDS[name]), CARDS[name]
    number = state.data["card_numbers"].get(name)
    if number is None:
        raise missing("payment_method", name, param="payment_method")
    return name, card_for_number(number, "payment_method")


def card_of(state: State, pm_id: str) -> Card:
    return card_for_number(state.data["card_numbers"][pm_id], "payment_method")


def _store(state: State, card: Card) -> str:
    pm = state.put(payment_method_object(new_id("pm"), card, state.timestamp()))
    state.data["card_numbers"][pm["id"]] = card.number
    return pm["id"]


def create_payment_method(call: Call, state: State, params: dict[str, Any]) -> dict[str, Any]:
    check_known(params, {"type", "card", "billing_details", "metadata"})
    card = card_from_data({"type": params.get("type"), "card": params.get("card")})
    return state.objects[_store(state, card)]


def retrieve_payment_method(
    call: Call, state: State, params: dict[str, Any], pm_id: str
) -> dict[str, Any]:
    pm = state.get("payment_method", pm_id)
    if pm is None:
        raise missing("payment_method", pm_id)
    return pm
