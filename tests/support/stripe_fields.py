"""Stripe's top-level fields and their JSON types, per object the sandbox returns.

The field lists are those of Stripe's published example objects: ``openapi/fixtures3.json``
in the public repository stripe/openapi (the examples stripe-mock serves), as of commit
f0758b15a2cf53779d699452f4ab07d11076af0f ("Update fixture data", 2026-07-29; still the
file's last change at f6c2a48fbac2819d1feba8143d942ffc65e1c0d2, 2026-08-21). The file
itself is not copied here: these are the facts about Stripe's API it states, written out.

Each type is the example's (``string``, ``integer``, ``number``, ``boolean``, ``object``,
``array``); ``| null`` where Stripe's API reference declares the field nullable
(stripe-python 16's ``Optional[...]`` annotations say the same). A field whose example
value is null takes its type from that reference. An expandable field is its id, a
string: the sandbox accepts ``expand`` and ignores it.
"""

from __future__ import annotations

from typing import Any

FIELDS: dict[str, dict[str, str]] = {
    "charge": {
        "amount": "integer",
        "amount_captured": "integer",
        "amount_refunded": "integer",
        "application": "string | null",
        "application_fee": "string | null",
        "application_fee_amount": "integer | null",
        "balance_transaction": "string | null",
        "billing_details": "object",
        "calculated_statement_descriptor": "string | null",
        "captured": "boolean",
        "created": "integer",
        "currency": "string",
        "customer": "string | null",
        "description": "string | null",
        "disputed": "boolean",
        "failure_balance_transaction": "string | null",
        "failure_code": "string | null",
        "failure_message": "string | null",
        "fraud_details": "object | null",
        "id": "string",
        "livemode": "boolean",
        "metadata": "object",
        "object": "string",
        "on_behalf_of": "string | null",
        "outcome": "object | null",
        "paid": "boolean",
        "payment_intent": "string | null",
        "payment_method": "string | null",
        "payment_method_details": "object | null",
        "receipt_email": "string | null",
        "receipt_number": "string | null",
        "receipt_url": "string | null",
        "refunded": "boolean",
        "refunds": "object | null",
        "review": "string | null",
        "shipping": "object | null",
        "source": "object | null",
        "source_transfer": "string | null",
        "statement_descriptor": "string | null",
        "statement_descriptor_suffix": "string | null",
        "status": "string",
        "transfer_data": "object | null",
        "transfer_group": "string | null",
    },
    "payment_intent": {
        "amount": "integer",
        "amount_capturable": "integer",
        "amount_details": "object | null",
        "amount_received": "integer",
        "application": "string | null",
        "application_fee_amount": "integer | null",
        "automatic_payment_methods": "object | null",
        "canceled_at": "integer | null",
        "cancellation_reason": "string | null",
        "capture_method": "string",
        "client_secret": "string | null",
        "confirmation_method": "string",
        "created": "integer",
        "currency": "string",
        "customer": "string | null",
        "customer_account": "string | null",
        "description": "string | null",
        "excluded_payment_method_types": "array | null",
        "id": "string",
        "last_payment_error": "object | null",
        "latest_charge": "string | null",
        "livemode": "boolean",
        "managed_payments": "object | null",
        "metadata": "object",
        "next_action": "object | null",
        "object": "string",
        "on_behalf_of": "string | null",
        "payment_method": "string | null",
        "payment_method_configuration_details": "object | null",
        "payment_method_options": "object | null",
        "payment_method_types": "array",
        "processing": "object | null",
        "receipt_email": "string | null",
        "review": "string | null",
        "setup_future_usage": "string | null",
        "shipping": "object | null",
        "source": "string | null",
        "statement_descriptor": "string | null",
        "statement_descriptor_suffix": "string | null",
        "status": "string",
        "transfer_data": "object | null",
        "transfer_group": "string | null",
    },
    "refund": {
        "amount": "integer",
        "balance_transaction": "string | null",
        "charge": "string | null",
        "created": "integer",
        "currency": "string",
        "customer": "string | null",
        "customer_account": "string | null",
        "destination_details": "object | null",
        "id": "string",
        "metadata": "object | null",
        "object": "string",
        "payment_intent": "string | null",
        "payment_method": "string | null",
        "reason": "string | null",
        "receipt_number": "string | null",
        "source_transfer_reversal": "string | null",
        "status": "string | null",
        "transfer_reversal": "string | null",
    },
    "payment_method": {
        "allow_redisplay": "string | null",
        "billing_details": "object",
        "card": "object | null",
        "created": "integer",
        "customer": "string | null",
        "customer_account": "string | null",
        "id": "string",
        "livemode": "boolean",
        "metadata": "object | null",
        "object": "string",
        "type": "string",
    },
    "event": {
        "api_version": "string | null",
        "created": "integer",
        "data": "object",
        "id": "string",
        "livemode": "boolean",
        "object": "string",
        "pending_webhooks": "integer",
        "request": "object | null",
        "type": "string",
    },
    "balance_transaction": {
        "amount": "integer",
        "available_on": "integer",
        "balance_type": "string",
        "created": "integer",
        "currency": "string",
        "description": "string | null",
        "exchange_rate": "number | null",
        "fee": "integer",
        "fee_details": "array",
        "id": "string",
        "net": "integer",
        "object": "string",
        "reporting_category": "string",
        "source": "string | null",
        "status": "string",
        "type": "string",
    },
}


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def differences(obj: dict[str, Any]) -> dict[str, list[str]]:
    """What ``obj`` lacks of Stripe's fields for its kind, and fields of another JSON type.

    ``{"missing": [field, ...], "wrong_type": ["field: integer, Stripe: string | null"]}``.
    """
    fields = FIELDS[obj["object"]]
    missing = [name for name in fields if name not in obj]
    wrong = [
        f"{name}: {json_type(obj[name])}, Stripe: {allowed}"
        for name, allowed in fields.items()
        if name in obj and json_type(obj[name]) not in allowed.split(" | ")
    ]
    return {"missing": missing, "wrong_type": wrong}


def coverage(obj: dict[str, Any]) -> float:
    """The share of Stripe's fields ``obj`` carries with Stripe's type, 0 to 1."""
    fields = FIELDS[obj["object"]]
    found = differences(obj)
    return 1 - (len(found["missing"]) + len(found["wrong_type"])) / len(fields)
