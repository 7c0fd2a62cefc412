"""The live-cart gateway: handshake refusals, hints to the right cart, hostile clients."""

from __future__ import annotations

import json
import time

import pytest
from itsdangerous import TimestampSigner
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from models.db import Session
from services import live_tokens
from services.settings import get_settings
from tests.support import factories
from tests.support.realtime_gateway import gateway_for


@pytest.fixture
def gateway():
    settings = get_settings()
    with gateway_for(settings.redis_url, secret=settings.secret_key) as running:
        yield running


@pytest.fixture
def carts():
    with Session.begin() as session:
        factories.product(session, "A", stock={"main": 50})
        return factories.cart(session, items={"A": 1}).id, factories.cart(session).id


def live(client, cart_id):
    response = client.post(f"/api/carts/{cart_id}/live-token")
    assert response.status_code == 200
    return response.json


def open_socket(gateway, cart_id, token):
    return connect(f"{gateway.url}/carts/{cart_id}?token={token}", open_timeout=5)


def next_hint(socket, timeout=3.0):
    return json.loads(socket.recv(timeout=timeout))


def test_the_live_token_names_the_gateway_and_expires(client, carts):
    cart_id, _ = carts

    body = live(client, cart_id)

    assert body["url"] == f"{get_settings().realtime_url}/carts/{cart_id}"
    assert body["token"] and body["expires_at"].endswith("Z")
    assert client.post("/api/carts/nope/live-token").status_code == 404


def test_a_committed_change_reaches_the_carts_sockets_only(client, gateway, carts):
    cart_id, other_id = carts
    watcher = open_socket(gateway, cart_id, live(client, cart_id)["token"])
    bystander = open_socket(gateway, other_id, live(client, other_id)["token"])

    response = client.patch(f"/api/carts/{cart_id}/items/A", json={"quantity": 3})

    assert next_hint(watcher) == {"cart_id": cart_id, "version": response.json["version"]}
    with pytest.raises(TimeoutError):
        bystander.recv(timeout=0.5)
    watcher.close()
    bystander.close()


@pytest.mark.parametrize("case", ["missing", "forged", "expired", "other cart", "bad path"])
def test_bad_tokens_are_refused_at_the_handshake(client, gateway, carts, monkeypatch, case):
    cart_id, other_id = carts
    secret = get_settings().secret_key
    token = live(client, cart_id)["token"]
    path = f"/carts/{cart_id}?token={token}"
    if case == "missing":
        path = f"/carts/{cart_id}"
    elif case == "forged":
        path = f"/carts/{cart_id}?token={live_tokens.issue(cart_id, secret='x', ttl_s=60).token}"
    elif case == "expired":
        with monkeypatch.context() as past:
            past.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - 301)
            old = live_tokens.issue(cart_id, secret=secret, ttl_s=300).token
        path = f"/carts/{cart_id}?token={old}"
    elif case == "other cart":
        path = f"/carts/{other_id}?token={token}"
    elif case == "bad path":
        path = f"/elsewhere?token={token}"

    with pytest.raises(InvalidStatus) as refused:
        connect(f"{gateway.url}{path}", open_timeout=5)

    assert refused.value.response.status_code in (401, 404)
    assert gateway.call(lambda: gateway.gateway.connections) == 0


def test_flooding_and_huge_frames_are_cut_off_without_slowing_others(client, gateway, carts):
    cart_id, _ = carts
    token = live(client, cart_id)["token"]
    calm = open_socket(gateway, cart_id, token)
    flooder = open_socket(gateway, cart_id, token)
    giant = open_socket(gateway, cart_id, token)

    with pytest.raises(ConnectionClosed) as flooded:
        for _ in range(100):
            flooder.send("hi")
            time.sleep(0.001)
        flooder.recv(timeout=3)
    giant.send("x" * 100_000)
    with pytest.raises(ConnectionClosed) as too_big:
        giant.recv(timeout=3)
    response = client.patch(f"/api/carts/{cart_id}/items/A", json={"quantity": 2})

    assert flooded.value.rcvd.code == 1008 and too_big.value.rcvd.code == 1009
    assert next_hint(calm)["version"] == response.json["version"]
    calm.close()


def test_resync_tells_every_client_to_refetch(client, gateway, carts):
    cart_id, _ = carts
    socket = open_socket(gateway, cart_id, live(client, cart_id)["token"])

    assert gateway.call(lambda: gateway.gateway.resync()) == 1

    assert next_hint(socket) == {"cart_id": cart_id, "version": None}
    socket.close()
