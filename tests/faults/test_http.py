"""The load's HTTP client against the Stripe sandbox: reuse, reconnection, failure."""

from __future__ import annotations

import socket
import threading

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


def _closing_the_second_request_unanswered(seen: list[bytes]) -> socket.socket:
    """A server that answers one request per connection and keeps it open, but closes
    the connection unanswered when a second request arrives on it: its idle timeout
    firing as the request went out."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve(connection: socket.socket) -> None:
        with connection, connection.makefile("rb") as stream:
            for n in range(2):
                line, length = stream.readline(), 0
                if not line:
                    return  # the client hung up
                while (header := stream.readline()) not in (b"\r\n", b""):
                    if header.lower().startswith(b"content-length:"):
                        length = int(header.split(b":")[1])
                stream.read(length)
                seen.append(line)
                if n == 1:
                    return
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")

    def accept() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(connection,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return listener


def test_a_request_crossing_the_servers_close_is_sent_again_on_a_new_connection():
    seen: list[bytes] = []
    listener = _closing_the_second_request_unanswered(seen)
    client = Client(f"http://127.0.0.1:{listener.getsockname()[1]}", timeout=5)
    try:
        assert client.request("GET", "/first").status_code == 200
        answer = client.request("POST", "/second", json_body={})
    finally:
        client.close()
        listener.close()

    assert answer.status_code == 200
    # Sent twice: closed unread on the kept connection, answered on the new one.
    assert seen == [
        b"GET /first HTTP/1.1\r\n",
        b"POST /second HTTP/1.1\r\n",
        b"POST /second HTTP/1.1\r\n",
    ]
