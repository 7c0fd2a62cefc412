"""One of every object the Stripe sandbox returns, in every state the fleet meets, as JSON.

Made through the ``/v1`` API with plain HTTP, so the objects are checked exactly as they
travel (stripe-python would hide a missing field). ``python -m tests.support.sandbox_objects``
prints each kind's coverage of Stripe's fields (tests/support/stripe_fields.py) against a
fresh in-memory sandbox.
"""

from __future__ import annotations

import json
from typing import Any

import requests

from devtools.stripe_sandbox import SandboxServer
from tests.support.stripe_fields import FIELDS, coverage, differences

KEY = "sk_test_contract"
THREE_D_SECURE = "pm_card_threeDSecure2Required"


class Api:
    """Form-encoded calls to one sandbox; every answer as the JSON dict it was sent as."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session = requests.Session()
        self.session.trust_env = False  # no proxy between the client and loopback
        self.session.headers["Authorization"] = f"Bearer {KEY}"

    def post(self, path: str, **params: Any) -> dict[str, Any]:
        return self.session.post(f"{self.url}{path}", data=params, timeout=10).json()

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        return self.session.get(f"{self.url}{path}", params=params, timeout=10).json()

    def intent(self, **params: Any) -> dict[str, Any]:
        return self.post("/v1/payment_intents", amount=2500, currency="usd", **params)


def samples(url: str) -> dict[str, list[dict[str, Any]]]:
    """Objects by kind: intents in each status, paid, failed and refunded charges, ..."""
    api = Api(url)
    automatic = {"automatic_payment_methods[enabled]": "true", "metadata[order_id]": "o-1"}
    paid = api.intent(payment_method="pm_card_visa", confirm="true", **automatic)
    declined = api.intent(payment_method="pm_card_chargeDeclined", confirm="true")
    declined = declined.get("error", {}).get("payment_intent", declined)
    needs_action = api.intent(
        payment_method=THREE_D_SECURE, confirm="true", return_url="http://shop.test/done"
    )
    canceled = api.post(f"/v1/payment_intents/{api.intent()['id']}/cancel")
    refund = api.post("/v1/refunds", payment_intent=paid["id"], amount=1000)
    charges = [api.get(f"/v1/charges/{i['latest_charge']}") for i in (paid, declined)]
    method = api.post("/v1/payment_methods", type="card", **{"card[number]": "4242424242424242"})
    events = api.get("/v1/events", limit=100)["data"]
    transactions = [
        api.get(f"/v1/balance_transactions/{obj['balance_transaction']}")
        for obj in (charges[0], refund)
        if obj.get("balance_transaction")
    ]
    return {
        "charge": charges,
        "payment_intent": [
            api.get(f"/v1/payment_intents/{i['id']}")
            for i in (paid, declined, needs_action, canceled)
        ]
        + [api.intent()],
        "refund": [refund],
        "payment_method": [method],
        "event": events,
        "balance_transaction": [t for t in transactions if t.get("object")],
    }


def report(url: str) -> dict[str, Any]:
    """Per kind: Stripe's field count, the lowest coverage among the samples, what is off."""
    found = samples(url)
    out: dict[str, Any] = {}
    for kind, fields in FIELDS.items():
        objects = found[kind]
        if not objects:
            out[kind] = {"fields": len(fields), "coverage_percent": 0.0, "samples": 0}
            continue
        worst = min(objects, key=coverage)
        out[kind] = {
            "fields": len(fields),
            "coverage_percent": round(100 * coverage(worst), 1),
            "samples": len(objects),
            **differences(worst),
        }
    return out


if __name__ == "__main__":
    with SandboxServer() as sandbox:
        print(json.dumps(report(sandbox.url), indent=2))
