"""Confirming: charges and events, declines, 3D Secure, a good card after a decline."""

from __future__ import annotations

import pytest
import stripe


def new_intent(client):
    return client.v1.payment_intents.create(params={"amount": 2500, "currency": "usd"})


def event_types(client, intent_id):
    events = [e.to_dict() for e in client.v1.events.list({"limit": 100}).data]
    return [
        e["type"]
        for e in reversed(events)
        if intent_id in (e["data"]["object"]["id"], e["data"]["object"].get("payment_intent"))
    ]


@pytest.mark.parametrize(
    "method",
    [
        {"payment_method": "pm_card_visa"},
        {"payment_method": "pm_card_mastercard"},
        {"payment_method_data": {"type": "card", "card": {"number": "4242424242424242"}}},
    ],
)
def test_a_good_card_succeeds_with_a_charge(client, method):
    intent = new_intent(client)

    paid = client.v1.payment_intents.confirm(intent.id, method)

    assert paid.status == "succeeded"
    assert paid.amount_received == 2500
    assert paid.payment_method.startswith("pm_")
    charge = client.v1.charges.retrieve(paid.latest_charge)
    assert charge.id.startswith("ch_")
    assert (charge.amount, charge.amount_refunded, charge.refunded) == (2500, 0, False)
    assert charge.payment_intent == intent.id
    assert charge.status == "succeeded"
    assert event_types(client, intent.id) == [
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
    ]


@pytest.mark.parametrize(
    ("method", "code", "decline_code"),
    [
        ("pm_card_chargeDeclined", "card_declined", "generic_decline"),
        ("pm_card_chargeDeclinedInsufficientFunds", "card_declined", "insufficient_funds"),
        ("4111111111111111", "card_declined", "test_mode_live_card"),
    ],
)
def test_a_declined_card_is_a_card_error(client, method, code, decline_code):
    intent = new_intent(client)
    params = (
        {"payment_method_data": {"type": "card", "card": {"number": method}}}
        if method.isdigit()
        else {"payment_method": method}
    )

    with pytest.raises(stripe.CardError) as raised:
        client.v1.payment_intents.confirm(intent.id, params)

    error = raised.value
    assert error.http_status == 402
    assert error.code == code
    assert error.error.decline_code == decline_code
    assert error.error.payment_intent.id == intent.id
    after = client.v1.payment_intents.retrieve(intent.id)
    assert after.status == "requires_payment_method"
    assert after.last_payment_error.code == code
    assert after.payment_method is None
    assert "payment_intent.payment_failed" in event_types(client, intent.id)


def test_an_invalid_number_is_incorrect_number(client):
    with pytest.raises(stripe.CardError) as raised:
        client.v1.payment_intents.confirm(
            new_intent(client).id,
            {"payment_method_data": {"type": "card", "card": {"number": "4242424242424241"}}},
        )

    assert raised.value.code == "incorrect_number"


def test_a_declined_intent_succeeds_with_a_good_card(client):
    intent = new_intent(client)
    with pytest.raises(stripe.CardError):
        client.v1.payment_intents.confirm(intent.id, {"payment_method": "pm_card_chargeDeclined"})

    paid = client.v1.payment_intents.confirm(intent.id, {"payment_method": "pm_card_visa"})

    assert paid.status == "succeeded"
    assert paid.last_payment_error is None
    assert client.v1.charges.list({"payment_intent": intent.id}).data[0].status == "succeeded"


def test_create_with_confirm_and_a_decline_keeps_the_intent(client):
    with pytest.raises(stripe.CardError) as raised:
        client.v1.payment_intents.create(
            params={
                "amount": 900,
                "currency": "usd",
                "payment_method": "pm_card_chargeDeclinedInsufficientFunds",
                "confirm": True,
            }
        )

    intent_id = raised.value.error.payment_intent.id
    assert client.v1.payment_intents.retrieve(intent_id).status == "requires_payment_method"


def test_3ds_card_requires_action_until_authenticated(client, control):
    intent = new_intent(client)

    pending = client.v1.payment_intents.confirm(
        intent.id, {"payment_method_data": {"type": "card", "card": {"number": "4000002500003155"}}}
    )
    authenticated = control.authenticate(intent.id)

    assert pending.status == "requires_action"
    assert pending.next_action.type == "use_stripe_sdk"
    assert authenticated["status"] == "succeeded"
    assert client.v1.payment_intents.retrieve(intent.id).amount_received == 2500
    assert event_types(client, intent.id)[-3:] == [
        "payment_intent.requires_action",
        "charge.succeeded",
        "payment_intent.succeeded",
    ]


def test_failed_3ds_goes_back_to_requires_payment_method(client, control):
    intent = new_intent(client)
    client.v1.payment_intents.confirm(
        intent.id, {"payment_method": "pm_card_authenticationRequired"}
    )

    failed = control.authenticate(intent.id, fail=True)

    assert failed["status"] == "requires_payment_method"
    assert failed["last_payment_error"]["code"] == "payment_intent_authentication_failure"


def test_confirm_without_a_payment_method_is_refused(client):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.confirm(new_intent(client).id)

    assert raised.value.code == "payment_intent_unexpected_state"


def test_a_created_payment_method_can_be_used(client):
    method = client.v1.payment_methods.create(
        {"type": "card", "card": {"number": "4000000000000002", "exp_month": 1, "exp_year": 2040}}
    )

    with pytest.raises(stripe.CardError) as raised:
        client.v1.payment_intents.confirm(new_intent(client).id, {"payment_method": method.id})

    assert method.card.last4 == "0002"
    assert raised.value.error.decline_code == "generic_decline"
