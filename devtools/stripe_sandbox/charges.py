"""Charges: made by confirming a payment intent, changed by refunds, readable via the API."""

from __future__ import annotations

from typing import Any

from devtools.stripe_sandbox.cards import Card
from devtools.stripe_sandbox.state import State, new_id
from devtools.stripe_sandbox.wire import Call, check_created, check_known, missing, page


def new_charge(
    state: State, intent: dict[str, Any], pm_id: str, card: Card, *, paid: bool
) -> dict[str, Any]:
    """A succeeded (``paid``) or failed charge of ``intent`` with the card ``card``."""
    return state.put(
        {
            "id": new_id("ch"),
            "object": "charge",
            "amount": intent["amount"],
            "amount_captured": intent["amount"] if paid else 0,
            "amount_refunded": 0,
            "captured": paid,
            "created": state.timestamp(),
            "currency": intent["currency"],
            "customer": intent.get("customer"),
            "description": intent.get("description"),
            "failure_code": None if paid else card.code,
            "failure_message": None if paid else card.message,
            "livemode": False,
            "metadata": dict(intent["metadata"]),
            "outcome": {
                "network_status": "approved_by_network" if paid else "declined_by_network",
                "reason": None if paid else card.decline_code,
                "risk_level": "normal",
                "seller_message": "Payment complete." if paid else "The bank did not approve.",
                "type": "authorized" if paid else "issuer_declined",
            },
            "paid": paid,
            "payment_intent": intent["id"],
            "payment_method": pm_id,
            "payment_method_details": {
                "type": "card",
                "card": {"brand": card.brand, "last4": card.number[-4:]},
            },
            "receipt_email": intent.get("receipt_email"),
            "refunded": False,
            "status": "succeeded" if paid else "failed",
        }
    )


def retrieve(call: Call, state: State, params: dict[str, Any], charge_id: str) -> dict[str, Any]:
    charge = state.get("charge", charge_id)
    if charge is None:
        raise missing("charge", charge_id)
    return charge


def list_charges(call: Call, state: State, params: dict[str, Any]) -> dict[str, Any]:
    check_known(params, {"created", "ending_before", "limit", "payment_intent", "starting_after"})
    in_window = check_created(params.get("created"))
    intent = params.get("payment_intent")
    items = [
        charge
        for charge in state.newest_first("charge")
        if in_window(charge["created"]) and intent in (None, charge["payment_intent"])
    ]
    return page(items, params, "/v1/charges")
