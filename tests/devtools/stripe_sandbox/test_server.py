"""The sandbox's HTTP server: kept-alive connections, and a stop that ends them."""

from __future__ import annotations

import http.client
import json
import time

import pytest

from devtools.stripe_sandbox import SandboxServer


def _connect(sandbox: SandboxServer) -> http.client.HTTPConnection:
    host, port = sandbox.url.removeprefix("http://").split(":")
    return http.client.HTTPConnection(host, int(port), timeout=5)


def _create_intent(connection: http.client.HTTPConnection) -> http.client.HTTPResponse:
    connection.request(
        "POST",
        "/v1/payment_intents",
        body="amount=1200&currency=usd",
        headers={
            "Authorization": "Bearer sk_test_keepalive",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    return connection.getresponse()


def test_one_connection_serves_request_after_request(sandbox):
    connection = _connect(sandbox)
    ids = []
    local_ports = set()
    for _ in range(3):
        response = _create_intent(connection)
        assert response.status == 200
        assert not response.will_close
        ids.append(json.loads(response.read())["id"])
        local_ports.add(connection.sock.getsockname()[1])
    connection.close()

    assert len(set(ids)) == 3
    assert len(local_ports) == 1  # never reconnected


def test_an_error_answer_keeps_the_connection_usable(sandbox):
    connection = _connect(sandbox)
    connection.request("GET", "/v1/payment_intents/pi_missing")
    missing = connection.getresponse()
    assert missing.status == 401  # no key
    assert json.loads(missing.read())["error"]["type"] == "invalid_request_error"

    assert _create_intent(connection).status == 200
    connection.close()


def test_stop_ends_kept_alive_connections():
    sandbox = SandboxServer().start()
    connection = _connect(sandbox)
    first = _create_intent(connection)
    first.read()
    assert first.status == 200

    started = time.monotonic()
    sandbox.stop()
    stopped_in = time.monotonic() - started

    with pytest.raises((OSError, http.client.HTTPException)):
        _create_intent(connection).read()
    assert stopped_in < 0.4  # woken at once, not after the serving loop's 0.5 s poll
