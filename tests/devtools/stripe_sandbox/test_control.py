"""The control API through ``SandboxControl``: its errors, endpoints and reset."""

from __future__ import annotations

import pytest

from devtools.stripe_sandbox import SandboxControlError


def test_refused_control_calls_raise(control):
    with pytest.raises(SandboxControlError) as unknown_switch:
        control.set_switches(colour="red")
    with pytest.raises(SandboxControlError) as no_intent:
        control.authenticate("pi_missing")
    with pytest.raises(SandboxControlError) as no_endpoint:
        control.remove_webhook("we_missing")

    assert unknown_switch.value.status == 400
    assert no_intent.value.status == 404
    assert no_endpoint.value.status == 404


def test_endpoints_are_listed_and_removed(control, client, receiver):
    endpoint = control.add_webhook(receiver.url)

    listed = control.webhooks()
    control.remove_webhook(endpoint["id"])
    client.v1.payment_intents.create(params={"amount": 900, "currency": "usd"})

    assert endpoint["secret"].startswith("whsec_")
    assert [e["id"] for e in listed] == [endpoint["id"]]
    assert control.webhooks() == []
    assert control.deliveries() == []


def test_reset_drops_pending_deliveries_and_keeps_delivering(control, client, receiver):
    control.add_webhook(receiver.url, "whsec_a")
    control.pause()
    client.v1.payment_intents.create(params={"amount": 900, "currency": "usd"})

    control.reset()
    control.add_webhook(receiver.url, "whsec_a")
    intent = client.v1.payment_intents.create(params={"amount": 901, "currency": "usd"})

    (event,) = receiver.wait_for(1)
    assert event["data"]["object"]["id"] == intent.id
    assert [d["status"] for d in control.wait_for_deliveries()] == ["succeeded"]
