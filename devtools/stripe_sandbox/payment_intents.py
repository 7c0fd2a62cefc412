"""PaymentIntents: create, retrieve, update, confirm, cancel, list.

Statuses move as Stripe's do: ``requires_payment_method`` (or ``requires_confirmation``
once a payment method is set) → confirm (confirmation.py) → ``succeeded`` |
``requires_action`` | back to ``requires_payment_method``; ``canceled`` from any
unfinished status.
"""

from __future__ import annotations

import secrets
from typing import Any

from devtools.stripe_sandbox import cards, confirmation
from devtools.stripe_sandbox.confirmation import unexpected
from devtools.stripe_sandbox.events import emit
from devtools.stripe_sandbox.state import State, new_id
from devtools.stripe_sandbox.wire import (
    Call,
    boolean,
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

CANCELLATION_REASONS = ("duplicate", "fraudulent", "requested_by_customer", "abandoned")
SETUP_FUTURE_USAGES = ("off_session", "on_session")
# Stripe names the account's default payment method configuration on intents that use
# automatic payment methods; the sandbox has one, under a fixed id.
PAYMENT_METHOD_CONFIGURATION = "pmc_sandbox_default"
CANCELABLE = ("requires_payment_method", "requires_confirmation", "requires_action")
_CONFIRM_PARAMS = {
    "mandate_data",
    "off_session",
    "payment_method",
    "payment_method_data",
    "payment_method_options",
    "receipt_email",
    "return_url",
    "setup_future_usage",
    "use_stripe_sdk",
}
_EDITABLE = {
    "amount",
    "currency",
    "customer",
    "description",
    "metadata",
    "payment_method",
    "receipt_email",
    "shipping",
    "statement_descriptor",
    "statement_descriptor_suffix",
}
_CREATE_PARAMS = (
    _CONFIRM_PARAMS
    | _EDITABLE
    | {"automatic_payment_methods", "capture_method", "confirm", "payment_method_types"}
)


def get_intent(state: State, intent_id: str) -> dict[str, Any]:
    intent = state.get("payment_intent", intent_id)
    if intent is None:
        raise missing("payment_intent", intent_id)
    return intent


def _amount(params: dict[str, Any]) -> int | None:
    amount = integer(params, "amount", minimum=1)
    if amount is not None and amount < 50:
        raise param_error("Amount must be at least 50 cents", "amount", "amount_too_small")
    if amount is not None and amount > 99_999_999:
        raise param_error("Amount must be no more than 999,999.99", "amount", "amount_too_large")
    return amount


def _currency(value: str) -> str:
    if len(value) != 3 or not value.isalpha():
        raise param_error(f"Invalid currency: {value}.", "currency")
    return value.lower()


def create(call: Call, state: State, params: dict[str, Any]) -> dict[str, Any]:
    check_known(params, _CREATE_PARAMS)
    for name in ("amount", "currency"):
        if name not in params:
            raise param_error(f"Missing required param: {name}.", name, "parameter_missing")
    choice(params, "capture_method", ("automatic", "automatic_async"))
    setup_future_usage = choice(params, "setup_future_usage", SETUP_FUTURE_USAGES)
    automatic = params.get("automatic_payment_methods")
    enabled = boolean(automatic, "enabled") if isinstance(automatic, dict) else None
    confirm = boolean(params, "confirm")
    amount, currency = _amount(params), _currency(params["currency"])
    meta = metadata(params.get("metadata", {}))
    method = cards.resolve(state, params)
    intent_id = new_id("pi")
    intent = state.put(
        {
            "id": intent_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_details": {"tip": {}},
            "amount_received": 0,
            "application": None,
            "application_fee_amount": None,
            "automatic_payment_methods": (
                {"allow_redirects": automatic.get("allow_redirects", "always"), "enabled": True}
                if enabled
                else None
            ),
            "canceled_at": None,
            "cancellation_reason": None,
            "capture_method": params.get("capture_method", "automatic"),
            "client_secret": f"{intent_id}_secret_{secrets.token_urlsafe(18)}",
            "confirmation_method": "automatic",
            "created": state.timestamp(),
            "currency": currency,
            "customer": params.get("customer"),
            "customer_account": None,
            "description": params.get("description"),
            "excluded_payment_method_types": None,
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "managed_payments": None,
            "metadata": meta,
            "next_action": None,
            "on_behalf_of": None,
            "payment_method": None,
            "payment_method_configuration_details": (
                {"id": PAYMENT_METHOD_CONFIGURATION, "parent": None} if enabled else None
            ),
            "payment_method_options": {
                "card": {
                    "installments": None,
                    "mandate_options": None,
                    "network": None,
                    "request_three_d_secure": "automatic",
                }
            },
            "payment_method_types": params.get("payment_method_types") or ["card"],
            "processing": None,
            "receipt_email": params.get("receipt_email"),
            "review": None,
            "setup_future_usage": setup_future_usage,
            "shipping": params.get("shipping"),
            "source": None,
            "statement_descriptor": params.get("statement_descriptor"),
            "statement_descriptor_suffix": params.get("statement_descriptor_suffix"),
            "status": "requires_payment_method",
            "transfer_data": None,
            "transfer_group": None,
        }
    )
    if method is not None:
        intent["payment_method"] = method[0]
        intent["status"] = "requires_confirmation"
    emit(state, "payment_intent.created", intent, call)
    if confirm:
        _confirm(call, state, intent, method, params, setup_future_usage=setup_future_usage)
    return intent


def _confirm(
    call: Call,
    state: State,
    intent: dict[str, Any],
    method: tuple[str, cards.Card] | None,
    params: dict[str, Any],
    *,
    setup_future_usage: str | None,
) -> None:
    confirmation.confirm_with(
        call,
        state,
        intent,
        method,
        return_url=params.get("return_url") or None,
        use_stripe_sdk=bool(boolean(params, "use_stripe_sdk")),
        setup_future_usage=setup_future_usage,
    )


def _check_secret(call: Call, params: dict[str, Any], intent: dict[str, Any]) -> dict[str, Any]:
    # A publishable key (Stripe.js) reaches one intent only, by proving its client secret.
    if call.publishable and params.get("client_secret") != intent["client_secret"]:
        raise invalid(
            "The client_secret provided does not match the client_secret of the PaymentIntent.",
            code="payment_intent_invalid_parameter",
            param="client_secret",
        )
    return intent


def retrieve(call: Call, state: State, params: dict[str, Any], intent_id: str) -> dict[str, Any]:
    check_known(params, {"client_secret"})
    return _check_secret(call, params, get_intent(state, intent_id))


def update(call: Call, state: State, params: dict[str, Any], intent_id: str) -> dict[str, Any]:
    check_known(params, _EDITABLE)
    intent = get_intent(state, intent_id)
    finished = intent["status"] in ("succeeded", "canceled")
    if finished and set(params) - {"metadata", "description", "receipt_email", "shipping"}:
        raise unexpected(intent, "update")
    # Everything is validated before anything changes, so a refused update changes nothing.
    changes = {name: params[name] or None for name in params if name != "payment_method"}
    if "amount" in params:
        changes["amount"] = _amount(params)
    if "currency" in params:
        changes["currency"] = _currency(params["currency"])
    if "metadata" in params:
        changes["metadata"] = metadata(params["metadata"], intent["metadata"])
    method = cards.resolve(state, params)
    previous = {name: intent.get(name) for name in params}
    intent.update(changes)
    if method is not None:
        intent["payment_method"] = method[0]
        intent["status"] = "requires_confirmation"
    emit(state, "payment_intent.updated", intent, call, previous)
    return intent


def confirm(call: Call, state: State, params: dict[str, Any], intent_id: str) -> dict[str, Any]:
    check_known(params, _CONFIRM_PARAMS | {"client_secret"})
    intent = _check_secret(call, params, get_intent(state, intent_id))
    if intent["status"] not in ("requires_payment_method", "requires_confirmation"):
        raise unexpected(intent, "confirm")
    usage = choice(params, "setup_future_usage", SETUP_FUTURE_USAGES)
    method = cards.resolve(state, params)
    if method is None and intent["payment_method"]:
        method = intent["payment_method"], cards.card_of(state, intent["payment_method"])
    _confirm(call, state, intent, method, params, setup_future_usage=usage)
    return intent


def cancel(call: Call, state: State, params: dict[str, Any], intent_id: str) -> dict[str, Any]:
    check_known(params, {"cancellation_reason"})
    reason = choice(params, "cancellation_reason", CANCELLATION_REASONS)
    intent = get_intent(state, intent_id)
    if intent["status"] not in CANCELABLE:
        raise unexpected(intent, "cancel")
    intent.update(
        status="canceled",
        canceled_at=state.timestamp(),
        cancellation_reason=reason,
        next_action=None,
    )
    emit(state, "payment_intent.canceled", intent, call)
    return intent


def list_intents(call: Call, state: State, params: dict[str, Any]) -> dict[str, Any]:
    check_known(params, {"created", "customer", "ending_before", "limit", "starting_after"})
    in_window = check_created(params.get("created"))
    customer = params.get("customer")
    items = [
        intent
        for intent in state.newest_first("payment_intent")
        if in_window(intent["created"]) and customer in (None, intent["customer"])
    ]
    return page(items, params, "/v1/payment_intents")
