"""Every object the sandbox returns carries Stripe's top-level fields with Stripe's JSON types.

Compared with tests/support/stripe_fields.py, the fields of Stripe's published example
objects (stripe/openapi ``openapi/fixtures3.json``); the objects are made through the
API in each state the fleet meets (tests/support/sandbox_objects.py).
"""

from __future__ import annotations

import pytest

from devtools.stripe_sandbox.balance_transactions import stripe_fee
from tests.support.sandbox_objects import Api, samples
from tests.support.stripe_fields import FIELDS, differences


@pytest.fixture
def objects(sandbox):
    return samples(sandbox.url)


@pytest.mark.parametrize("kind", sorted(FIELDS))
def test_every_object_of_a_kind_has_stripes_fields_and_types(objects, kind):
    assert objects[kind], f"no {kind} made"

    for obj in objects[kind]:
        assert differences(obj) == {"missing": [], "wrong_type": []}, obj["id"]


def test_event_snapshots_are_complete_objects_too(objects):
    snapshots = [event["data"]["object"] for event in objects["event"]]

    assert {s["object"] for s in snapshots} == {"payment_intent", "charge", "refund"}
    assert all(differences(s) == {"missing": [], "wrong_type": []} for s in snapshots)


def test_a_paid_charge_credits_its_amount_less_stripes_fee(sandbox):
    api = Api(sandbox.url)
    intent = api.intent(payment_method="pm_card_visa", confirm="true")
    charge = api.get(f"/v1/charges/{intent['latest_charge']}")

    transaction = api.get(f"/v1/balance_transactions/{charge['balance_transaction']}")

    assert stripe_fee(2500) == 103  # 2.9 % of 25.00 is 72.5, rounded up, plus 30
    assert transaction["source"] == charge["id"]
    assert (transaction["type"], transaction["reporting_category"]) == ("charge", "charge")
    assert (transaction["amount"], transaction["fee"], transaction["net"]) == (2500, 103, 2397)
    assert transaction["fee_details"] == [
        {
            "amount": 103,
            "application": None,
            "currency": "usd",
            "description": "Stripe processing fees",
            "type": "stripe_fee",
        }
    ]
    assert transaction["status"] == "pending"
    assert transaction["available_on"] > charge["created"]


def test_a_charges_funds_become_available_on_the_sandbox_clock(sandbox, control):
    api = Api(sandbox.url)
    charge_id = api.intent(payment_method="pm_card_visa", confirm="true")["latest_charge"]
    txn_id = api.get(f"/v1/charges/{charge_id}")["balance_transaction"]

    control.advance_clock(3 * 86_400)

    assert api.get(f"/v1/balance_transactions/{txn_id}")["status"] == "available"


def test_a_refund_debits_the_balance_and_shows_on_its_charge(sandbox):
    api = Api(sandbox.url)
    intent = api.intent(payment_method="pm_card_visa", confirm="true")
    first = api.post("/v1/refunds", payment_intent=intent["id"], amount=1000)
    second = api.post("/v1/refunds", payment_intent=intent["id"])

    charge = api.get(f"/v1/charges/{intent['latest_charge']}")
    debit = api.get(f"/v1/balance_transactions/{first['balance_transaction']}")
    listed = api.get("/v1/balance_transactions", source=second["id"])["data"]

    assert (debit["type"], debit["amount"], debit["fee"], debit["net"]) == (
        "refund",
        -1000,
        0,
        -1000,
    )
    assert [t["amount"] for t in listed] == [-1500]
    assert charge["refunded"] is True
    assert charge["refunds"]["total_count"] == 2
    assert [r["id"] for r in charge["refunds"]["data"]] == [second["id"], first["id"]]
    assert api.get(f"/v1/charges/{charge['id']}/refunds")["data"] == charge["refunds"]["data"]
    assert first["payment_method"] == charge["payment_method"]


def test_a_declined_charge_moves_no_money(sandbox):
    api = Api(sandbox.url)
    error = api.intent(payment_method="pm_card_chargeDeclined", confirm="true")["error"]

    charge = api.get(f"/v1/charges/{error['charge']}")

    assert charge["balance_transaction"] is None and charge["receipt_url"] is None
    assert api.get("/v1/balance_transactions")["data"] == []


def test_a_paid_charge_has_a_receipt_page(sandbox):
    api = Api(sandbox.url)
    intent = api.intent(payment_method="pm_card_visa", confirm="true")
    charge = api.get(f"/v1/charges/{intent['latest_charge']}")

    page = api.session.get(charge["receipt_url"], timeout=10)

    assert page.status_code == 200
    assert "25.00 USD" in page.text and "ending 4242" in page.text


def test_a_card_seen_twice_has_one_fingerprint(sandbox):
    api = Api(sandbox.url)
    number = {"card[number]": "4242424242424242"}

    first = api.post("/v1/payment_methods", type="card", **number)
    second = api.post("/v1/payment_methods", type="card", **number)

    assert first["id"] != second["id"]
    assert first["card"]["fingerprint"] == second["card"]["fingerprint"]
