"""Webhook delivery: Stripe's signature, retries, the chaos switches, the retry window."""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import stripe

from devtools.stripe_sandbox import SandboxServer, sign
from tests.devtools.stripe_sandbox.conftest import RETRY_BASE_S, make_client

SECRET = "whsec_test_sandbox"


@pytest.fixture
def endpoint(control, receiver):
    return control.add_webhook(receiver.url, SECRET)


def create_intent(client, amount=1000):
    return client.v1.payment_intents.create(params={"amount": amount, "currency": "usd"})


def test_deliveries_verify_with_stripe_construct_event(client, endpoint, receiver):
    intent = create_intent(client)

    (received,) = receiver.wait_for(1)
    body, headers = receiver.calls[0]
    event = stripe.Webhook.construct_event(body, headers["Stripe-Signature"], SECRET)

    assert event.type == "payment_intent.created"
    assert event.data.object.id == intent.id
    assert received["id"] == event.id
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body, headers["Stripe-Signature"], "whsec_other")


def test_sign_matches_stripe_scheme():
    header = sign(b'{"id": "evt_1"}', SECRET, int(time.time()))

    assert stripe.WebhookSignature.verify_header('{"id": "evt_1"}', header, SECRET, 300)


def test_a_failed_delivery_is_retried_with_backoff(client, control, endpoint, receiver):
    receiver.statuses = [500, 503]
    create_intent(client)

    events = receiver.wait_for(3)
    (delivery,) = control.wait_for_deliveries()

    assert len({e["id"] for e in events}) == 1
    assert [a["status"] for a in delivery["attempts"]] == [500, 503, 200]
    first, second, third = (a["at"] for a in delivery["attempts"])
    assert second - first >= RETRY_BASE_S * 0.9
    assert third - second >= 2 * RETRY_BASE_S * 0.9
    assert client.v1.events.list({"delivery_success": "false"}).data == []


def test_given_up_deliveries_are_listed_as_unsuccessful(receiver):
    receiver.statuses = [500] * 10
    with SandboxServer(retry_base_s=0.01, max_attempts=3) as sandbox:
        sandbox.control.add_webhook(receiver.url, SECRET)
        client = make_client(sandbox.url)
        intent = client.v1.payment_intents.create(
            params={"amount": 500, "currency": "usd", "payment_method": "pm_card_visa"}
        )
        deliveries = sandbox.control.wait_for_deliveries()

        failed = client.v1.events.list({"delivery_success": False})
        succeeded = client.v1.events.list({"delivery_success": True})

    assert [len(d["attempts"]) for d in deliveries] == [3]
    assert deliveries[0]["status"] == "failed"
    assert [e.data.object.id for e in failed.data] == [intent.id]
    assert failed.data[0].pending_webhooks == 1
    assert succeeded.data == []


def test_an_unreachable_endpoint_counts_as_a_failure(client, control):
    control.add_webhook("http://127.0.0.1:9/webhooks/stripe", SECRET)
    create_intent(client)

    deadline = time.monotonic() + 5
    while not control.deliveries()[0]["attempts"]:
        assert time.monotonic() < deadline
        time.sleep(0.01)

    attempt = control.deliveries()[0]["attempts"][0]
    assert attempt["status"] is None
    assert attempt["error"]


def test_duplicate_sends_every_event_twice(client, control, endpoint, receiver):
    control.set_switches(duplicate=True)
    create_intent(client)

    first, second = receiver.wait_for(2)
    control.wait_for_deliveries()

    assert first["id"] == second["id"]


def test_reorder_delivers_a_window_out_of_order(client, control, endpoint, receiver):
    control.pause()
    created = [create_intent(client, 100 + i).id for i in range(3)]
    control.set_switches(reorder=True, paused=False)

    received = receiver.wait_for(3)

    assert sorted(e["data"]["object"]["id"] for e in received) == sorted(created)
    assert [e["data"]["object"]["id"] for e in received] != created


def test_drop_records_a_failure_and_sends_nothing(client, control, endpoint, receiver):
    control.set_switches(drop=True)
    intent = create_intent(client)

    (delivery,) = control.wait_for_deliveries()

    assert delivery["status"] == "failed"
    assert delivery["attempts"][0]["error"] == "dropped by the sandbox"
    assert receiver.calls == []
    unsent = client.v1.events.list({"delivery_success": "false"}).data
    assert [e.data.object.id for e in unsent] == [intent.id]


def test_paused_holds_deliveries_until_resumed(client, control, endpoint, receiver):
    control.pause()
    create_intent(client)
    time.sleep(0.2)
    held = len(receiver.calls)

    control.resume()

    assert held == 0
    assert len(receiver.wait_for(1)) == 1


def test_delay_holds_the_first_attempt(client, control, endpoint, receiver):
    control.set_switches(delay_s=0.3)
    started = time.monotonic()
    create_intent(client)

    receiver.wait_for(1)

    assert time.monotonic() - started >= 0.3


def test_deliveries_past_the_retry_window_are_given_up(client, control, endpoint, receiver):
    receiver.statuses = [500] * 100
    create_intent(client)
    receiver.wait_for(1)

    control.advance_clock(4 * 24 * 3600)
    (delivery,) = control.wait_for_deliveries()

    assert delivery["status"] == "failed"
    assert delivery["gave_up"] == "older than the retry window"


def test_endpoints_from_the_constructor_and_event_filters(receiver):
    with SandboxServer(webhooks=[(receiver.url, SECRET)]) as sandbox:
        sandbox.control.add_webhook(receiver.url, "whsec_other", enabled_events=["charge.*"])
        client = make_client(sandbox.url)
        create_intent(client)
        deliveries = sandbox.control.wait_for_deliveries()

    assert [(d["type"], d["status"]) for d in deliveries] == [
        ("payment_intent.created", "succeeded")
    ]
    body, headers = receiver.calls[0]
    assert stripe.Webhook.construct_event(body, headers["Stripe-Signature"], SECRET)


class _Gathering(BaseHTTPRequestHandler):
    """Answers only once ``server.barrier``'s parties are all waiting: a sender that sends
    one at a time would be answered 500 after the barrier's timeout."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        try:
            self.server.barrier.wait()
            status = 200
        except threading.BrokenBarrierError:
            status = 500
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_deliveries_go_out_concurrently(client, control):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Gathering)
    server.barrier = threading.Barrier(3, timeout=5)
    threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True).start()
    try:
        control.add_webhook(f"http://127.0.0.1:{server.server_port}/hook", SECRET)
        for _ in range(3):
            create_intent(client)

        deliveries = control.wait_for_deliveries()
    finally:
        server.shutdown()
        server.server_close()

    assert [d["status"] for d in deliveries] == ["succeeded"] * 3
    assert all(len(d["attempts"]) == 1 for d in deliveries)


def _closing_after_each_answer(calls: list[bytes]) -> socket.socket:
    """A receiver that answers HTTP/1.1 without ``Connection: close`` and then hangs up,
    as a server does when its keep-alive timeout ends."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection, connection.makefile("rb") as stream:
                length = 0
                while (line := stream.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                calls.append(stream.read(length))
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")

    threading.Thread(target=serve, daemon=True).start()
    return listener


def test_a_kept_connection_the_receiver_closed_is_replaced_without_a_failed_attempt(
    client, control
):
    calls: list[bytes] = []
    listener = _closing_after_each_answer(calls)
    try:
        control.add_webhook(f"http://127.0.0.1:{listener.getsockname()[1]}/hook", SECRET)
        for _ in range(4):
            create_intent(client)
            control.wait_for_deliveries()

        deliveries = control.deliveries()
    finally:
        listener.close()

    assert len(calls) == 4
    assert [d["status"] for d in deliveries] == ["succeeded"] * 4
    assert all(len(d["attempts"]) == 1 for d in deliveries)
