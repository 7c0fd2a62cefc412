"""The Events API: envelope, newest first, cursors, and the type, created, delivery filters."""

from __future__ import annotations

import pytest
import stripe


def make_intents(client, count):
    return [
        client.v1.payment_intents.create(params={"amount": 100 + i, "currency": "usd"}).id
        for i in range(count)
    ]


def ids(page):
    return [event.data.object.id for event in page.data]


def test_event_envelope(client, raw):
    (intent_id,) = make_intents(client, 1)

    body = raw("GET", "/v1/events").json()
    event = body["data"][0]

    assert (body["object"], body["url"], body["has_more"]) == ("list", "/v1/events", False)
    assert event["id"].startswith("evt_")
    assert (event["object"], event["type"], event["livemode"]) == (
        "event",
        "payment_intent.created",
        False,
    )
    assert event["data"]["object"]["id"] == intent_id
    assert event["api_version"]
    assert event["pending_webhooks"] == 0
    assert event["request"]["id"].startswith("req_")
    assert client.v1.events.retrieve(event["id"]).id == event["id"]


def test_paging_with_limit_and_cursors(client):
    created = make_intents(client, 5)[::-1]  # newest first, as listed

    first = client.v1.events.list({"limit": 2})
    second = client.v1.events.list({"limit": 2, "starting_after": first.data[-1].id})
    last = client.v1.events.list({"limit": 2, "starting_after": second.data[-1].id})
    back = client.v1.events.list({"limit": 2, "ending_before": last.data[0].id})
    top = client.v1.events.list({"limit": 2, "ending_before": second.data[0].id})

    assert (ids(first), first.has_more) == (created[0:2], True)
    assert (ids(second), second.has_more) == (created[2:4], True)
    assert (ids(last), last.has_more) == (created[4:], False)
    assert (ids(back), back.has_more) == (created[2:4], True)
    assert (ids(top), top.has_more) == (created[0:2], False)
    assert [e.id for e in client.v1.events.list({"limit": 10}).auto_paging_iter()] == [
        e.id for e in first.data + second.data + last.data
    ]


def test_filter_by_types_and_type(client, paid_intent):
    client.v1.refunds.create({"payment_intent": paid_intent.id})

    by_types = client.v1.events.list({"types": ["charge.succeeded", "refund.created"]})
    by_type = client.v1.events.list({"type": "payment_intent.*"})

    assert [e.type for e in by_types.data] == ["refund.created", "charge.succeeded"]
    assert [e.type for e in by_type.data] == ["payment_intent.succeeded", "payment_intent.created"]


def test_filter_by_created_follows_the_sandbox_clock(client, control):
    (before,) = make_intents(client, 1)
    control.advance_clock(3600)
    (after,) = make_intents(client, 1)
    later = client.v1.payment_intents.retrieve(after).created

    newer = client.v1.events.list({"created": {"gte": later}})
    older = client.v1.events.list({"created": {"lt": later}})

    assert ids(newer) == [after]
    assert ids(older) == [before]
    assert later - client.v1.payment_intents.retrieve(before).created >= 3600


def test_bad_list_parameters(client):
    with pytest.raises(stripe.InvalidRequestError) as limit:
        client.v1.events.list({"limit": 101})
    with pytest.raises(stripe.InvalidRequestError) as cursor:
        client.v1.events.list({"starting_after": "evt_unknown"})

    assert limit.value.param == "limit"
    assert cursor.value.param == "starting_after"
