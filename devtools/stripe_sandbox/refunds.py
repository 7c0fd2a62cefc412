"""Refunds of a succeeded charge (named directly or through its payment intent)."""

from __future__ import annotations

from typing import Any

from devtools.stripe_sandbox import balance_transactions, charges
from devtools.stripe_sandbox.events import emit
from devtools.stripe_sandbox.payment_intents import get_intent
from devtools.stripe_sandbox.state import State, new_id
from devtools.stripe_sandbox.wire import (
    Call,
    check_created,
    check_known,
    choice,
    integer,
    invalid,
    metadata,
    missing,
    page,
    param_error,
)

REASONS = ("duplicate", "fraudulent", "requested_by_customer")


def _charge_to_refund(state: State, params: dict[str, Any]) -> dict[str, Any]:
    if "charge" in params and "payment_intent" in params:
        raise param_error("You cannot pass both charge and payment_intent.", "charge")
    if "charge" in params:
        charge = state.get("charge", params["charge"])
        if charge is None:
            raise missing("charge", params["charge"], param="charge")
    elif "payment_intent" in params:
        intent = get_intent(state, params["payment_intent"])
        charge = state.get("charge", intent["latest_charge"] or "")
        if intent["status"] != "succeeded" or charge is None:
            raise invalid(
                f"This PaymentIntent ({intent['id']}) does not have a successful charge to refund.",
                param="payment_intent",
            )
    else:
        raise param_error(
            "One of the following params should be provided for this request: "
            "payment_intent or charge.",
            code="parameter_missing",
        )
    if charge["refunded"]:
        raise invalid(
            f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded"
        )
    return charge


def create(call: Call, state: State, params: dict[str, Any]) -> dict[str, Any]:
    check_known(params, {"amount", "charge", "metadata", "payment_intent", "reason"})
    reason = choice(params, "reason", REASONS)
    charge = _charge_to_refund(state, params)
    remainder = charge["amount"] - charge["amount_refunded"]
    amount = integer(params, "amount", minimum=1)
    amount = remainder if amount is None else amount
    if amount > remainder:
        raise invalid(
            f"Refund amount ({amount}) is greater than unrefunded amount on charge ({remainder})",
            code="amount_too_large",
            param="amount",
        )
    refund = state.put(
        {
            "id": new_id("re"),
            "object": "refund",
            "amount": amount,
            "balance_transaction": None,
            "charge": charge["id"],
            "created": state.timestamp(),
            "currency": charge["currency"],
            "customer": charge["customer"],
            "customer_account": None,
            "destination_details": {
                "card": {
                    "reference": None,
                    "reference_status": "pending",
                    "reference_type": "acquirer_reference_number",
                    "type": "refund",
                },
                "type": "card",
            },
            "metadata": metadata(params.get("metadata", {})),
            "payment_intent": charge["payment_intent"],
            "payment_method": charge["payment_method"],
            "reason": reason,
            "receipt_number": None,
            "source_transfer_reversal": None,
            "status": "succeeded",
            "transfer_reversal": None,
        }
    )
    refund["balance_transaction"] = balance_transactions.for_refund(state, refund)
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] == charge["amount"]
    charges.refresh_refunds(state, charge)
    emit(state, "refund.created", refund, call)
    emit(
        state,
        "charge.refunded",
        charge,
        call,
        {"amount_refunded": charge["amount_refunded"] - amount},
    )
    return refund


def _get(state: State, refund_id: str) -> dict[str, Any]:
    refund = state.get("refund", refund_id)
    if refund is None:
        raise missing("refund", refund_id)
    return refund


def retrieve(call: Call, state: State, params: dict[str, Any], refund_id: str) -> dict[str, Any]:
    return _get(state, refund_id)


def update(call: Call, state: State, params: dict[str, Any], refund_id: str) -> dict[str, Any]:
    check_known(params, {"metadata"})
    refund = _get(state, refund_id)
    previous = {"metadata": dict(refund["metadata"])}
    refund["metadata"] = metadata(params.get("metadata", {}), refund["metadata"])
    charges.refresh_refunds(state, state.objects[refund["charge"]])
    emit(state, "refund.updated", refund, call, previous)
    return refund


def list_charge_refunds(
    call: Call, state: State, params: dict[str, Any], charge_id: str
) -> dict[str, Any]:
    """``GET /v1/charges/{id}/refunds``: the list a charge's ``refunds`` field pages."""
    check_known(params, {"ending_before", "limit", "starting_after"})
    charges.retrieve(call, state, {}, charge_id)
    items = [refund for refund in state.newest_first("refund") if refund["charge"] == charge_id]
    return page(items, params, f"/v1/charges/{charge_id}/refunds")


def list_refunds(call: Call, state: State, params: dict[str, Any]) -> dict[str, Any]:
    check_known(
        params, {"charge", "created", "ending_before", "limit", "payment_intent", "starting_after"}
    )
    in_window = check_created(params.get("created"))
    items = [
        refund
        for refund in state.newest_first("refund")
        if in_window(refund["created"])
        and params.get("payment_intent") in (None, refund["payment_intent"])
        and params.get("charge") in (None, refund["charge"])
    ]
    return page(items, params, "/v1/refunds")
