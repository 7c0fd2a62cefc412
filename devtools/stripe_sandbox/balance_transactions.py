"""Balance transactions: what a succeeded charge adds to the balance (less Stripe's fee)
and what a refund takes back, as Stripe records them.

The fee is Stripe's standard US card pricing, 2.9 % + 30 minor units, in the charge's
currency whatever it is. A charge's funds become available two days after it (Stripe's
standard US payout schedule), at midnight UTC; a refund's debit is available at once.
"""

from __future__ import annotations

from typing import Any

from devtools.stripe_sandbox.state import State, new_id
from devtools.stripe_sandbox.wire import Call, check_created, check_known, missing, page

DAY_S = 86_400
AVAILABLE_AFTER_DAYS = 2
FEE_PER_MILLE = 29
FEE_FIXED = 30
_FILTERS = ("currency", "source", "type")


def stripe_fee(amount: int) -> int:
    """2.9 % of ``amount`` rounded half up, plus 30."""
    return (amount * FEE_PER_MILLE + 500) // 1000 + FEE_FIXED


def _transaction(
    state: State,
    *,
    source: str,
    kind: str,
    amount: int,
    currency: str,
    fee: int,
    description: str | None,
    available_on: int,
) -> str:
    fee_details = (
        [
            {
                "amount": fee,
                "application": None,
                "currency": currency,
                "description": "Stripe processing fees",
                "type": "stripe_fee",
            }
        ]
        if fee
        else []
    )
    transaction = state.put(
        {
            "id": new_id("txn"),
            "object": "balance_transaction",
            "amount": amount,
            "available_on": available_on,
            "balance_type": "payments",
            "created": state.timestamp(),
            "currency": currency,
            "description": description,
            "exchange_rate": None,
            "fee": fee,
            "fee_details": fee_details,
            "net": amount - fee,
            "reporting_category": kind,
            "source": source,
            "status": "pending",
            "type": kind,
        }
    )
    return transaction["id"]


def for_charge(state: State, charge: dict[str, Any]) -> str:
    """The id of a new transaction crediting a succeeded charge, net of the fee."""
    created = state.timestamp()
    return _transaction(
        state,
        source=charge["id"],
        kind="charge",
        amount=charge["amount"],
        currency=charge["currency"],
        fee=stripe_fee(charge["amount"]),
        description=charge["description"],
        available_on=(created // DAY_S + AVAILABLE_AFTER_DAYS) * DAY_S,
    )


def for_refund(state: State, refund: dict[str, Any]) -> str:
    """The id of a new transaction debiting a refund; Stripe keeps the charge's fee."""
    return _transaction(
        state,
        source=refund["id"],
        kind="refund",
        amount=-refund["amount"],
        currency=refund["currency"],
        fee=0,
        description="REFUND FOR CHARGE",
        available_on=state.timestamp(),
    )


def _render(state: State, transaction: dict[str, Any]) -> dict[str, Any]:
    # Pending until its day comes on the sandbox clock (advance_clock moves it on).
    status = "available" if state.now() >= transaction["available_on"] else "pending"
    return {**transaction, "status": status}


def retrieve(call: Call, state: State, params: dict[str, Any], txn_id: str) -> dict[str, Any]:
    transaction = state.get("balance_transaction", txn_id)
    if transaction is None:
        raise missing("balance_transaction", txn_id)
    return _render(state, transaction)


def list_transactions(call: Call, state: State, params: dict[str, Any]) -> dict[str, Any]:
    check_known(
        params,
        {"created", "currency", "ending_before", "limit", "source", "starting_after", "type"},
    )
    in_window = check_created(params.get("created"))
    items = [
        _render(state, transaction)
        for transaction in state.newest_first("balance_transaction")
        if in_window(transaction["created"])
        and all(params.get(name) in (None, transaction[name]) for name in _FILTERS)
    ]
    return page(items, params, "/v1/balance_transactions")
