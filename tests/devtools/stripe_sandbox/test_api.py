"""The API layer: idempotency as Stripe keeps it, simulated outages, the request log."""

from __future__ import annotations

import pytest
import stripe


def create(client, key, **params):
    return client.v1.payment_intents.create(
        params={"amount": 1000, "currency": "usd", **params}, options={"idempotency_key": key}
    )


def test_same_key_same_params_replays_the_stored_response(client, raw):
    first = create(client, "order-1", metadata={"order_id": "1"})
    client.v1.payment_intents.update(first.id, {"description": "changed since"})

    again = create(client, "order-1", metadata={"order_id": "1"})
    replayed = raw(
        "POST",
        "/v1/payment_intents",
        data={"amount": "1000", "currency": "usd", "metadata[order_id]": "1"},
        headers={"Idempotency-Key": "order-1"},
    )

    assert again.to_dict() == first.to_dict()
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json()["id"] == first.id
    assert len(client.v1.payment_intents.list().data) == 1


def test_same_key_different_params_is_an_idempotency_error(client):
    create(client, "order-2")

    with pytest.raises(stripe.IdempotencyError) as raised:
        create(client, "order-2", amount=1001)

    assert raised.value.http_status == 400
    assert raised.value.error.type == "idempotency_error"


def test_a_card_error_is_replayed_but_a_validation_error_is_not(client):
    with pytest.raises(stripe.CardError):
        create(client, "declined", payment_method="pm_card_chargeDeclined", confirm=True)
    with pytest.raises(stripe.CardError):
        create(client, "declined", payment_method="pm_card_chargeDeclined", confirm=True)
    with pytest.raises(stripe.InvalidRequestError):
        create(client, "fixable", colour="red")

    assert len(client.v1.payment_intents.list().data) == 1
    assert create(client, "fixable").status == "requires_payment_method"


def test_cancel_retried_with_its_key_answers_the_same(client):
    intent = create(client, "create-3")
    options = {"idempotency_key": "cartfleet-cancel-pi-3"}

    first = client.v1.payment_intents.cancel(
        intent.id, {"cancellation_reason": "abandoned"}, options
    )
    second = client.v1.payment_intents.cancel(
        intent.id, {"cancellation_reason": "abandoned"}, options
    )

    assert first.to_dict() == second.to_dict()


def test_fail_next_requests_answers_api_errors_then_recovers(client, control):
    control.fail_next_requests(2)

    for _ in range(2):
        with pytest.raises(stripe.APIError) as raised:
            create(client, "outage")
        assert raised.value.http_status == 500
        assert raised.value.error.type == "api_error"
    assert create(client, "outage").status == "requires_payment_method"


def test_unknown_url_is_a_404_in_stripe_shape(raw):
    response = raw("GET", "/v1/customers")

    assert response.status_code == 404
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert response.headers["Request-Id"].startswith("req_")


def test_the_request_log_records_what_reached_the_sandbox(client, control):
    create(client, "log-1", metadata={"order_id": "9"})

    requests = control.requests()
    control.clear_requests()

    assert [(r["method"], r["path"], r["status"]) for r in requests] == [
        ("POST", "/v1/payment_intents", 200)
    ]
    assert requests[0]["params"]["metadata"] == {"order_id": "9"}
    assert requests[0]["idempotency_key"] == "log-1"
    assert control.requests() == []
