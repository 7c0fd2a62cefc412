"""Refunds: full, partial, over the remainder, by charge, listing, events."""

from __future__ import annotations

import pytest
import stripe


def test_full_refund_defaults_to_the_remainder(client, paid_intent):
    refund = client.v1.refunds.create(
        {
            "payment_intent": paid_intent.id,
            "reason": "requested_by_customer",
            "metadata": {"o": "1"},
        }
    )

    assert refund.id.startswith("re_")
    assert (refund.amount, refund.status, refund.reason) == (
        2000,
        "succeeded",
        "requested_by_customer",
    )
    assert refund.charge == paid_intent.latest_charge
    assert refund.metadata.to_dict() == {"o": "1"}
    charge = client.v1.charges.retrieve(paid_intent.latest_charge)
    assert (charge.amount_refunded, charge.refunded) == (2000, True)
    assert client.v1.refunds.retrieve(refund.id).to_dict() == refund.to_dict()


def test_partial_refunds_then_over_the_remainder(client, paid_intent):
    first = client.v1.refunds.create({"payment_intent": paid_intent.id, "amount": 500})
    second = client.v1.refunds.create({"charge": paid_intent.latest_charge, "amount": 700})

    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.refunds.create({"payment_intent": paid_intent.id, "amount": 801})

    assert raised.value.code == "amount_too_large"
    assert raised.value.param == "amount"
    charge = client.v1.charges.retrieve(paid_intent.latest_charge)
    assert (charge.amount_refunded, charge.refunded) == (1200, False)
    listed = client.v1.refunds.list({"payment_intent": paid_intent.id})
    assert [r.id for r in listed.data] == [second.id, first.id]
    assert first.payment_intent == second.payment_intent == paid_intent.id


def test_a_fully_refunded_charge_cannot_be_refunded_again(client, paid_intent):
    client.v1.refunds.create({"payment_intent": paid_intent.id})

    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.refunds.create({"payment_intent": paid_intent.id, "amount": 1})

    assert raised.value.code == "charge_already_refunded"


def test_refund_reason_and_intent_state_are_checked(client):
    unpaid = client.v1.payment_intents.create(params={"amount": 700, "currency": "usd"})

    with pytest.raises(stripe.InvalidRequestError) as not_paid:
        client.v1.refunds.create({"payment_intent": unpaid.id})
    with pytest.raises(stripe.InvalidRequestError) as bad_reason:
        client.v1.refunds.create({"payment_intent": unpaid.id, "reason": "changed_mind"})
    with pytest.raises(stripe.InvalidRequestError) as neither:
        client.v1.refunds.create({"amount": 100})

    assert not_paid.value.param == "payment_intent"
    assert bad_reason.value.param == "reason"
    assert neither.value.code == "parameter_missing"


def test_refund_events(client, paid_intent):
    refund = client.v1.refunds.create({"payment_intent": paid_intent.id, "amount": 300})
    client.v1.refunds.update(refund.id, {"metadata": {"ticket": "T-9"}})

    events = client.v1.events.list({"types": ["refund.*", "charge.refunded"]}).data

    assert [e.type for e in events] == ["refund.updated", "charge.refunded", "refund.created"]
    assert events[0].data.object.metadata.to_dict() == {"ticket": "T-9"}
    assert events[1].data.object.amount_refunded == 300
