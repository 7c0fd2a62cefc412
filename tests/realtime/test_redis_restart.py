"""The gateway survives a Redis restart: it subscribes again and clients catch up."""

from __future__ import annotations

import json
import time

import pytest
from websockets.sync.client import connect

from models.db import Session
from services import cart_hints
from services.settings import get_settings
from tests.faults.cluster import Redis
from tests.support import factories
from tests.support.realtime_gateway import gateway_for

pytestmark = pytest.mark.slow


@pytest.fixture
def redis_server(tmp_path, monkeypatch):
    server = Redis(tmp_path).start()
    monkeypatch.setattr(cart_hints, "_publisher", cart_hints.Publisher(server.url))
    yield server
    server.stop()


def test_clients_catch_up_within_5_s_of_a_redis_restart(client, redis_server):
    with Session.begin() as session:
        factories.product(session, "A", stock={"main": 50})
        cart_id = factories.cart(session, items={"A": 1}).id
    token = client.post(f"/api/carts/{cart_id}/live-token").json["token"]

    with gateway_for(redis_server.url, secret=get_settings().secret_key) as gateway:
        socket = connect(f"{gateway.url}/carts/{cart_id}?token={token}", open_timeout=5)

        redis_server.restart()
        back = time.monotonic()
        resync = json.loads(socket.recv(timeout=5))
        caught_up = time.monotonic() - back
        time.sleep(cart_hints.PAUSE_AFTER_FAILURE_S)  # the web's publisher may be pausing
        version = client.patch(f"/api/carts/{cart_id}/items/A", json={"quantity": 4}).json[
            "version"
        ]
        hint = json.loads(socket.recv(timeout=5))
        socket.close()

    assert resync == {"cart_id": cart_id, "version": None} and caught_up < 5
    assert hint == {"cart_id": cart_id, "version": version}
