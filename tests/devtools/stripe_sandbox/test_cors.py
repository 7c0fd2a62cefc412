"""The confirm route answers CORS, as Stripe's API does for Stripe.js on a shop's page."""

from __future__ import annotations

ORIGIN = {"Origin": "http://127.0.0.1:5000"}


def test_confirm_answers_the_preflight_and_the_call(raw, client):
    intent = client.v1.payment_intents.create(params={"amount": 1000, "currency": "usd"})
    path = f"/v1/payment_intents/{intent.id}/confirm"

    preflight = raw(
        "OPTIONS",
        path,
        key=None,
        headers={
            **ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    confirmed = raw(
        "POST",
        path,
        key="pk_test_page",
        headers=ORIGIN,
        data={"client_secret": intent.client_secret, "payment_method": "pm_card_visa"},
    )

    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert preflight.headers["Access-Control-Allow-Methods"] == "POST"
    assert {"authorization", "content-type"} <= {
        name.strip().lower()
        for name in preflight.headers["Access-Control-Allow-Headers"].split(",")
    }
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "succeeded"
    assert confirmed.headers["Access-Control-Allow-Origin"] == "*"


def test_no_other_route_answers_cors(raw, client):
    intent = client.v1.payment_intents.create(params={"amount": 1000, "currency": "usd"})

    retrieved = raw("GET", f"/v1/payment_intents/{intent.id}", headers=ORIGIN)
    preflight = raw("OPTIONS", "/v1/payment_intents", key=None, headers=ORIGIN)

    assert retrieved.status_code == 200
    assert "Access-Control-Allow-Origin" not in retrieved.headers
    assert preflight.status_code == 501
    assert "Access-Control-Allow-Origin" not in preflight.headers
