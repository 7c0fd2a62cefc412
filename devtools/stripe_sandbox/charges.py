"""Charges: made by confirming a payment intent, changed by refunds, readable via the API."""

from __future__ import annotations

import copy
from typing import Any

from devtools.stripe_sandbox import balance_transactions
from devtools.stripe_sandbox.cards import Card
from devtools.stripe_sandbox.state import State, new_id
from devtools.stripe_sandbox.wire import Call, check_created, check_known, missing, page

# What a charge's statement shows when the intent names none: the account's descriptor.
DESCRIPTOR = "CARTFLEET SANDBOX"
EMBEDDED_REFUNDS = 10  # Stripe embeds the first page of a charge's refunds
_CARD_DETAILS = (
    "brand",
    "checks",
    "country",
    "exp_month",
    "exp_year",
    "fingerprint",
    "funding",
    "last4",
)


def new_charge(
    state: State,
    intent: dict[str, Any],
    pm_id: str,
    card: Card,
    *,
    paid: bool,
    three_d_secure: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A succeeded (``paid``) or failed charge of ``intent`` with the card ``card``.

    A succeeded one gets its balance transaction (amount less Stripe's fee) and a
    receipt page on the sandbox.
    """
    method = state.objects[pm_id]
    charge_id = new_id("ch")
    charge = state.put(
        {
            "id": charge_id,
            "object": "charge",
            "amount": intent["amount"],
            "amount_captured": intent["amount"] if paid else 0,
            "amount_refunded": 0,
            "application": None,
            "application_fee": None,
            "application_fee_amount": None,
            "balance_transaction": None,
            "billing_details": copy.deepcopy(method["billing_details"]),
            "calculated_statement_descriptor": intent["statement_descriptor"] or DESCRIPTOR,
            "captured": paid,
            "created": state.timestamp(),
            "currency": intent["currency"],
            "customer": intent.get("customer"),
            "description": intent.get("description"),
            "disputed": False,
            "failure_balance_transaction": None,
            "failure_code": None if paid else card.code,
            "failure_message": None if paid else card.message,
            "fraud_details": {},
            "livemode": False,
            "metadata": dict(intent["metadata"]),
            "on_behalf_of": None,
            "outcome": {
                "advice_code": None,
                "network_advice_code": None,
                "network_decline_code": None,
                "network_status": "approved_by_network" if paid else "declined_by_network",
                "reason": None if paid else card.decline_code,
                "risk_level": "normal",
                "risk_score": 20,
                "seller_message": "Payment complete." if paid else "The bank did not approve.",
                "type": "authorized" if paid else "issuer_declined",
            },
            "paid": paid,
            "payment_intent": intent["id"],
            "payment_method": pm_id,
            "payment_method_details": {
                "type": "card",
                "card": {
                    # .get: a payment method kept by an older sandbox lacks some of them.
                    **{name: method["card"].get(name) for name in _CARD_DETAILS},
                    "amount_authorized": intent["amount"] if paid else None,
                    "authorization_code": None,
                    "mandate": None,
                    "network": card.brand,
                    "network_transaction_id": None,
                    "three_d_secure": three_d_secure,
                    "wallet": None,
                },
            },
            "receipt_email": intent.get("receipt_email"),
            "receipt_number": None,
            "receipt_url": f"{state.base_url}/_sandbox/receipts/{charge_id}" if paid else None,
            "refunded": False,
            "refunds": _refund_list(charge_id, []),
            "review": None,
            "shipping": copy.deepcopy(intent.get("shipping")),
            "source": None,
            "source_transfer": None,
            "statement_descriptor": intent["statement_descriptor"],
            "statement_descriptor_suffix": None,
            "status": "succeeded" if paid else "failed",
            "transfer_data": None,
            "transfer_group": None,
        }
    )
    if paid:
        charge["balance_transaction"] = balance_transactions.for_charge(state, charge)
    return charge


def refresh_refunds(state: State, charge: dict[str, Any]) -> None:
    """Set ``charge.refunds`` to the list of its refunds, newest first, as Stripe embeds it."""
    refunds = [r for r in state.newest_first("refund") if r["charge"] == charge["id"]]
    charge["refunds"] = _refund_list(charge["id"], refunds)


def _refund_list(charge_id: str, refunds: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "object": "list",
        "data": copy.deepcopy(refunds[:EMBEDDED_REFUNDS]),
        "has_more": len(refunds) > EMBEDDED_REFUNDS,
        "total_count": len(refunds),
        "url": f"/v1/charges/{charge_id}/refunds",
    }


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
