"""The load's HTTP client against the Stripe sandbox: reuse, reconnection, failure."""

from __future__ import annotations

import pytest

from devtools.embedded import free_port
from devtools.stripe_sandbox import SandboxServer
from tests.faults.http import Client, HTTPFailure

KEY = {"Authorization": "Bearer sk_test_load"}
INTENT = {"amount": "1200", "currency": "usd"}


def _local_port(client: Client) -> int:
    return client._connection.sock.getsockname()[1]


def test_requests_share_one_kept_alive_connection():
    with SandboxServer() as sandbox:
        client = Client(sandbox.url, timeout=5, headers=KEY)
        created = client.request("POST", "/v1/payment_intents", form=INTENT)
        port = _local_port(client)
        fetched = client.request("GET", f"/v1/payment_intents/{created.json()['id']}")
        missing = client.request("GET", "/v1/payment_intents/pi_nope")

        assert (created.status_code, fetched.status_code, missing.status_code) == (200, 200, 404)
        assert fetched.json()["amount"] == 1200
        assert missing.json()["error"]["code"] == "resource_missing"
        assert _local_port(client) == port
        client.close()


def test_a_connection_the_server_closed_while_idle_is_replaced():
    port = free_port()
    first = SandboxServer(port=port).start()
    client = Client(first.url, timeout=5, headers=KEY)
    assert client.request("POST", "/v1/payment_intents", form=INTENT).status_code == 200
    first.stop()  # ends the kept-alive connection, as a server's idle timeout would

    with SandboxServer(port=port) as second:
        answer = client.request("GET", "/v1/payment_intents")
        assert answer.status_code == 200
        assert answer.json()["data"] == []  # the new sandbox answered, on a new connection
        assert second.url == first.url
    client.close()


def test_no_server_is_a_failure_and_the_next_request_reconnects():
    port = free_port()
    client = Client(f"http://127.0.0.1:{port}", timeout=5, headers=KEY)
    with pytest.raises(HTTPFailure):
        client.request("GET", "/v1/payment_intents")

    with SandboxServer(port=port):
        assert client.request("GET", "/v1/payment_intents").status_code == 200
    client.close()
