"""``POST /webhooks/stripe``: signatures, the inbox, duplicates and outages."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from models.db import Session
from models.inbox import WebhookEvent
from models.infra.outbox import OutboxMessage
from tests.support import stripe_events
from tests.support.outages import database_outage
from web.webhooks import RECEIVED


def fresh_event(event_type: str = "payment_intent.succeeded") -> dict:
    return stripe_events.event(event_type, {"id": "pi_1", "object": "payment_intent"})


def send(client, payload: bytes, header: str | None):
    headers = {} if header is None else {"Stripe-Signature": header}
    return client.post(
        "/webhooks/stripe", data=payload, headers=headers, content_type="application/json"
    )


def stored() -> dict[str, str]:
    with Session() as session:
        return dict(session.execute(select(WebhookEvent.id, WebhookEvent.status)).all())


def jobs() -> list[list]:
    with Session() as session:
        return [
            row.args
            for row in session.scalars(
                select(OutboxMessage).where(OutboxMessage.actor_name == "process_stripe_event")
            )
        ]


def test_valid_signature_stores_the_event_and_its_job(client):
    event = fresh_event()
    response = stripe_events.post(client, event)

    assert response.status_code == 200
    assert response.json == {"received": True, "duplicate": False}
    assert stored() == {event["id"]: "received"}
    assert jobs() == [[event["id"]]]
    with Session() as session:
        row = session.get(WebhookEvent, event["id"])
        assert (row.type, row.api_version, row.livemode) == (event["type"], "2024-06-20", False)
        assert row.payload == event


def test_second_rotated_secret_is_accepted(client):
    event = fresh_event()
    response = stripe_events.post(client, event, secret=stripe_events.ROTATED_SECRET)
    assert response.status_code == 200
    assert stored() == {event["id"]: "received"}


def test_header_with_several_v1_signatures_matches_any(client):
    payload = stripe_events.encode(fresh_event())
    good = stripe_events.sign(payload)
    header = f"{good.split(',')[0]},v1={'0' * 64},{good.split(',')[1]}"
    assert send(client, payload, header).status_code == 200


@pytest.mark.parametrize(
    "make_header",
    [
        pytest.param(lambda p: stripe_events.sign(p, "whsec_wrong"), id="wrong secret"),
        pytest.param(lambda p: stripe_events.sign(p, timestamp=int(time.time()) - 301), id="stale"),
        pytest.param(
            lambda p: stripe_events.sign(p, timestamp=int(time.time()) + 301), id="future"
        ),
        pytest.param(lambda p: None, id="missing header"),
        pytest.param(lambda p: stripe_events.sign(p + b" "), id="tampered body"),
        pytest.param(lambda p: "t=abc,v1=zz", id="malformed"),
        pytest.param(lambda p: stripe_events.sign(p).split(",")[1], id="no timestamp"),
    ],
)
def test_bad_signatures_are_400_and_store_nothing(client, make_header):
    payload = stripe_events.encode(fresh_event())
    before = RECEIVED.labels(type="unknown", outcome="invalid_signature")._value.get()

    response = send(client, payload, make_header(payload))

    assert response.status_code == 400
    assert response.json["error"] == "invalid_signature"
    assert stored() == {} and jobs() == []
    after = RECEIVED.labels(type="unknown", outcome="invalid_signature")._value.get()
    assert after == before + 1


def test_timestamp_just_inside_the_tolerance_is_accepted(client):
    payload = stripe_events.encode(fresh_event())
    header = stripe_events.sign(payload, timestamp=int(time.time()) - 290)
    assert send(client, payload, header).status_code == 200


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"[]",
        b'{"id": "evt_1", "type": "payment_intent.succeeded"}',
        b'{"id": "evt_1", "type": "payment_intent.succeeded", "data": {"object": "x"}}',
        b'{"id": "", "type": "x", "data": {"object": {}}}',
        b'{"id": "evt_1", "type": "x", "data": {"object": {"note": "\\u0000"}}}',
    ],
    ids=["not json", "not an object", "no data", "object not a dict", "empty id", "NUL"],
)
def test_signed_body_that_is_not_a_stripe_event_is_400_invalid_payload(client, payload):
    response = send(client, payload, stripe_events.sign(payload))
    assert response.status_code == 400
    assert response.json["error"] == "invalid_payload"
    assert stored() == {}


def test_duplicate_event_id_is_200_duplicate_and_enqueues_nothing(client):
    event = fresh_event()
    first = stripe_events.post(client, event)
    again = stripe_events.post(client, event)

    assert first.json["duplicate"] is False
    assert again.status_code == 200
    assert again.json == {"received": True, "duplicate": True}
    assert jobs() == [[event["id"]]]


def test_unhandled_type_is_stored_ignored_without_a_job(client):
    event = fresh_event("customer.created")
    response = stripe_events.post(client, event)

    assert response.status_code == 200
    assert response.json == {"received": True, "duplicate": False}
    assert stored() == {event["id"]: "ignored"}
    assert jobs() == []


def test_database_down_is_503_so_stripe_retries(client):
    event = fresh_event()
    with database_outage():
        response = stripe_events.post(client, event)
    assert response.status_code == 503
    assert response.json["error"] == "unavailable"

    assert stripe_events.post(client, event).json == {"received": True, "duplicate": False}


def test_body_over_one_mebibyte_is_413(client):
    payload = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'
    response = send(client, payload, stripe_events.sign(payload))
    assert response.status_code == 413


def test_counter_counts_accepted_duplicates_and_ignored(client):
    def value(event_type, outcome):
        return RECEIVED.labels(type=event_type, outcome=outcome)._value.get()

    before = (value("refund.updated", "accepted"), value("refund.updated", "duplicate"))
    event = fresh_event("refund.updated")
    stripe_events.post(client, event)
    stripe_events.post(client, event)
    assert (value("refund.updated", "accepted"), value("refund.updated", "duplicate")) == (
        before[0] + 1,
        before[1] + 1,
    )
    with Session() as session:
        assert session.scalar(select(func.count()).select_from(WebhookEvent)) == 1


@pytest.mark.parametrize(
    "payload",
    [
        b'{"id": 5, "type": "payment_intent.succeeded", "data": {"object": {}}}',
        b'{"id": "evt_1", "type": "x", "data": {"object": []}}',
        b"{not json",
    ],
    ids=["id not a string", "object not a dict", "not json"],
)
def test_an_invalid_payload_says_why_without_internals(client, payload):
    response = send(client, payload, stripe_events.sign(payload))

    assert response.status_code == 400
    detail = response.json["detail"]
    assert detail
    assert "http" not in detail and "input_value" not in detail and "pydantic" not in detail


def _poisoned(event_type: str, **fields) -> dict:
    obj = {"id": "pi_poison", "object": "x", **fields}
    return stripe_events.event(event_type, {k: v for k, v in obj.items() if v is not ...})


@pytest.mark.parametrize(
    "event",
    [
        _poisoned("payment_intent.succeeded", metadata="order-1"),
        _poisoned("payment_intent.succeeded", amount_received="100"),
        _poisoned("payment_intent.succeeded", amount_received=2**63),
        _poisoned("payment_intent.succeeded", amount=[100]),
        _poisoned("payment_intent.succeeded", currency=840),
        _poisoned("refund.updated", currency={"code": "usd"}),
        _poisoned("payment_intent.payment_failed", last_payment_error="declined"),
        _poisoned("payment_intent.canceled", cancellation_reason=7),
        _poisoned("charge.refunded", amount_refunded="all"),
        _poisoned("charge.refunded", payment_intent=["pi_1"]),
        _poisoned("refund.updated", id=...),
        _poisoned("refund.updated", amount=1.5),
        {**_poisoned("payment_intent.succeeded"), "created": 2**63},
        {**_poisoned("payment_intent.succeeded"), "created": "yesterday"},
    ],
    ids=[
        "metadata a string",
        "amount a string",
        "amount past 64 bits",
        "intent amount a list",
        "currency a number",
        "refund currency an object",
        "error a string",
        "reason a number",
        "refunded a string",
        "intent a list",
        "refund without id",
        "amount a float",
        "created past 64 bits",
        "created a string",
    ],
)
def test_a_handled_event_with_fields_its_handler_cannot_read_is_refused(client, event):
    payload = stripe_events.encode(event)

    response = send(client, payload, stripe_events.sign(payload))

    assert response.status_code == 400
    assert response.json["error"] == "invalid_payload"
    assert response.json["detail"]
    assert stored() == {} and jobs() == []


def test_an_unhandled_type_is_not_checked_for_handler_fields(client):
    event = stripe_events.event("customer.created", {"id": "cus_1", "metadata": "anything"})
    payload = stripe_events.encode(event)

    response = send(client, payload, stripe_events.sign(payload))

    assert response.status_code == 200
    assert stored() == {event["id"]: "ignored"}


@pytest.mark.parametrize(
    "timestamp",
    ["²", "1" * 5000, "-1", "0x10", " 12"],
    ids=["superscript", "huge", "neg", "hex", "space"],
)
def test_a_signature_timestamp_that_is_no_plain_integer_is_400(client, timestamp):
    payload = stripe_events.encode(fresh_event())
    header = stripe_events.sign(payload).replace(
        stripe_events.sign(payload).split(",")[0], f"t={timestamp}"
    )

    response = send(client, payload, header)

    assert response.status_code == 400
    assert response.json["error"] == "invalid_signature"
    assert stored() == {}
