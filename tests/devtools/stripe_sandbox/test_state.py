"""Persistence: a sandbox restarted on the same state directory carries on where it was."""

from __future__ import annotations

import json

from devtools.stripe_sandbox import SandboxServer
from tests.devtools.stripe_sandbox.conftest import make_client

SECRET = "whsec_test_restart"


def test_restart_keeps_objects_events_and_idempotency(tmp_path):
    with SandboxServer(state_dir=tmp_path) as first:
        client = make_client(first.url)
        intent = client.v1.payment_intents.create(
            params={"amount": 3000, "currency": "usd", "payment_method": "pm_card_visa"},
            options={"idempotency_key": "restart-1"},
        )
        paid = client.v1.payment_intents.confirm(intent.id)
        refund = client.v1.refunds.create({"payment_intent": intent.id, "amount": 1000})

    assert json.loads((tmp_path / "state.json").read_text())["objects"][intent.id]

    with SandboxServer(state_dir=tmp_path) as second:
        client = make_client(second.url)
        again = client.v1.payment_intents.create(
            params={"amount": 3000, "currency": "usd", "payment_method": "pm_card_visa"},
            options={"idempotency_key": "restart-1"},
        )

        assert again.id == intent.id
        assert client.v1.payment_intents.retrieve(intent.id).status == "succeeded"
        assert client.v1.charges.retrieve(paid.latest_charge).amount_refunded == 1000
        assert client.v1.refunds.retrieve(refund.id).amount == 1000
        assert [e.type for e in client.v1.events.list().data] == [
            "charge.refunded",
            "refund.created",
            "payment_intent.succeeded",
            "charge.succeeded",
            "payment_intent.created",
        ]


def test_pending_deliveries_resume_after_a_restart(tmp_path, receiver):
    receiver.statuses = [500]
    with SandboxServer(
        state_dir=tmp_path, webhooks=[(receiver.url, SECRET)], retry_base_s=0.05
    ) as first:
        make_client(first.url).v1.payment_intents.create(params={"amount": 900, "currency": "usd"})
        receiver.wait_for(1)

    with SandboxServer(
        state_dir=tmp_path, webhooks=[(receiver.url, SECRET)], retry_base_s=0.05
    ) as second:
        (delivery,) = second.control.wait_for_deliveries()
        endpoints = second.control.webhooks()

    assert [a["status"] for a in delivery["attempts"]] == [500, 200]
    assert len(endpoints) == 1


def test_reset_forgets_everything_but_configured_endpoints(sandbox, control, client):
    client.v1.payment_intents.create(params={"amount": 900, "currency": "usd"})
    control.add_webhook("http://127.0.0.1:9/", "whsec_x")
    control.set_switches(drop=True)

    control.reset()

    assert client.v1.payment_intents.list().data == []
    assert control.webhooks() == []
    assert control.switches()["drop"] is False
    assert control.requests()[-1]["path"] == "/v1/payment_intents"
