"""PaymentIntents through stripe-python: fields, updates, listing, cancel, auth."""

from __future__ import annotations

import pytest
import stripe

from tests.devtools.stripe_sandbox.conftest import make_client


def create(client, **params):
    defaults = {"amount": 1500, "currency": "usd"}
    return client.v1.payment_intents.create(params={**defaults, **params})


def test_create_as_checkout_does(client):
    intent = client.v1.payment_intents.create(
        params={
            "amount": 4200,
            "currency": "EUR",
            "metadata": {"order_id": "o-1", "order_number": "CF-1", "cart_id": ""},
            "automatic_payment_methods": {"enabled": True},
        },
        options={"idempotency_key": "checkout-payment-intent-o-1"},
    )

    assert intent.id.startswith("pi_")
    assert intent.object == "payment_intent"
    assert intent.status == "requires_payment_method"
    assert (intent.amount, intent.currency, intent.livemode) == (4200, "eur", False)
    assert intent.metadata.to_dict() == {"order_id": "o-1", "order_number": "CF-1"}
    assert intent.automatic_payment_methods.enabled is True
    assert intent.client_secret.startswith(intent.id + "_secret_")
    assert client.v1.payment_intents.retrieve(intent.id).to_dict() == intent.to_dict()


def test_unknown_parameter_is_refused(client):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        create(client, colour="red")

    assert raised.value.http_status == 400
    assert raised.value.code == "parameter_unknown"
    assert raised.value.param == "colour"


def test_missing_and_malformed_parameters(client):
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.payment_intents.create(params={"currency": "usd"})
    with pytest.raises(stripe.InvalidRequestError) as malformed:
        create(client, amount="12.5")

    assert (missing.value.code, missing.value.param) == ("parameter_missing", "amount")
    assert (malformed.value.code, malformed.value.param) == ("parameter_invalid_integer", "amount")


def test_unknown_intent_is_resource_missing(client):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.retrieve("pi_nope")

    assert raised.value.http_status == 404
    assert raised.value.code == "resource_missing"


def test_update_merges_metadata_and_unsets_empty_values(client):
    intent = create(client, metadata={"a": "1", "b": "2"})

    updated = client.v1.payment_intents.update(
        intent.id, {"amount": 1800, "metadata": {"b": "", "c": "3"}, "description": "Order"}
    )

    assert updated.amount == 1800
    assert updated.description == "Order"
    assert updated.metadata.to_dict() == {"a": "1", "c": "3"}


def test_list_is_newest_first(client):
    ids = [create(client).id for _ in range(3)]

    page = client.v1.payment_intents.list({"limit": 2})

    assert [intent.id for intent in page.data] == ids[::-1][:2]
    assert page.has_more is True


def test_cancel_with_reason_emits_the_canceled_event(client):
    intent = create(client)

    canceled = client.v1.payment_intents.cancel(intent.id, {"cancellation_reason": "abandoned"})

    assert canceled.status == "canceled"
    assert canceled.cancellation_reason == "abandoned"
    assert canceled.canceled_at is not None
    event = client.v1.events.list({"type": "payment_intent.canceled"}).data[0]
    assert event.data.object.id == intent.id
    assert event.data.object.cancellation_reason == "abandoned"


def test_cancel_refuses_an_unknown_reason(client):
    intent = create(client)

    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.cancel(intent.id, {"cancellation_reason": "bored"})

    assert raised.value.param == "cancellation_reason"
    assert client.v1.payment_intents.retrieve(intent.id).status == "requires_payment_method"


def test_cancel_of_a_succeeded_intent_is_unexpected_state(client, paid_intent):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.cancel(paid_intent.id, {"cancellation_reason": "abandoned"})

    assert raised.value.http_status == 400
    assert raised.value.code == "payment_intent_unexpected_state"
    assert raised.value.error.payment_intent.status == "succeeded"


def test_a_secret_key_is_required(sandbox, raw):
    with pytest.raises(stripe.AuthenticationError) as raised:
        make_client(sandbox.url, key="not_a_key").v1.payment_intents.list()
    missing = raw("GET", "/v1/payment_intents", key=None)

    assert raised.value.http_status == 401
    assert missing.status_code == 401
    assert missing.json()["error"]["type"] == "invalid_request_error"


def test_publishable_key_confirms_with_the_client_secret_only(sandbox, client):
    intent = create(client)
    other = create(client)
    browser = make_client(sandbox.url, key="pk_test_sandbox")

    with pytest.raises(stripe.InvalidRequestError) as wrong_secret:
        browser.v1.payment_intents.confirm(
            other.id, {"client_secret": intent.client_secret, "payment_method": "pm_card_visa"}
        )
    with pytest.raises(stripe.AuthenticationError):
        browser.v1.payment_intents.create(params={"amount": 100, "currency": "usd"})
    confirmed = browser.v1.payment_intents.confirm(
        intent.id, {"client_secret": intent.client_secret, "payment_method": "pm_card_visa"}
    )

    assert wrong_secret.value.param == "client_secret"
    assert confirmed.status == "succeeded"
    assert client.v1.payment_intents.retrieve(other.id).status == "requires_payment_method"


def test_confirm_sets_setup_future_usage_and_a_refused_confirm_leaves_it(client):
    intent = create(client, setup_future_usage="on_session")

    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.confirm(intent.id, {"setup_future_usage": "off_session"})
    kept = client.v1.payment_intents.retrieve(intent.id).setup_future_usage
    paid = client.v1.payment_intents.confirm(
        intent.id, {"payment_method": "pm_card_visa", "setup_future_usage": "off_session"}
    )

    assert (intent.setup_future_usage, kept) == ("on_session", "on_session")
    assert paid.setup_future_usage == "off_session"
