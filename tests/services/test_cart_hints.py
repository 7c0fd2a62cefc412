"""Cart hints go out on Redis pub/sub after the write commits, never for a rollback."""

from __future__ import annotations

import json

import pytest
import redis

from models.carts.lifecycle import complete_cart, lock, mark_abandoned, touch
from models.carts.tables import Cart
from models.db import Session
from services import cart_hints
from services.hint_wire import CHANNEL
from services.settings import get_settings
from tests.support import factories


@pytest.fixture
def hints(cart_id):
    """Hints for the test's cart published from now on (its creation's went before)."""
    client = redis.Redis.from_url(get_settings().redis_url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(CHANNEL)
    pubsub.get_message(timeout=1)  # the subscription's confirmation

    def received(cart_id: str, timeout: float = 1.0) -> list[dict]:
        found = []
        while (message := pubsub.get_message(timeout=timeout)) is not None:
            hint = json.loads(message["data"])
            if hint["cart_id"] == cart_id:  # other test processes share the channel
                found.append(hint)
            timeout = 0.2
        return found

    yield received
    pubsub.close()
    client.close()


@pytest.fixture
def cart_id(app):
    with Session.begin() as session:
        factories.product(session, "A", stock={"main": 5})
        return factories.cart(session, items={"A": 1}).id


def test_a_write_publishes_its_version_only_once_committed(hints, cart_id):
    with Session.begin() as session:
        cart = lock(session, cart_id)
        touch(cart)
        session.flush()
        assert hints(cart_id, timeout=0.3) == []  # flushed, not committed
        version = cart.version

    assert hints(cart_id) == [{"cart_id": cart_id, "version": version}]


def test_a_rolled_back_write_publishes_nothing(hints, cart_id):
    with pytest.raises(RuntimeError), Session.begin() as session:
        touch(lock(session, cart_id))
        session.flush()
        raise RuntimeError("the request failed after the flush")

    assert hints(cart_id, timeout=0.5) == []


def test_completion_and_abandonment_publish_their_versions(hints, cart_id):
    with Session.begin() as session:
        assert mark_abandoned(session, cart_ids=[cart_id]) == [cart_id]
    with Session.begin() as session:
        abandoned = session.get(Cart, cart_id).version
        assert complete_cart(session, cart_id=cart_id)
    with Session.begin() as session:
        completed = session.get(Cart, cart_id).version

    assert hints(cart_id) == [
        {"cart_id": cart_id, "version": abandoned},
        {"cart_id": cart_id, "version": completed},
    ]


def test_a_rolled_back_completion_publishes_nothing(hints, cart_id):
    with pytest.raises(RuntimeError), Session.begin() as session:
        complete_cart(session, cart_id=cart_id)
        raise RuntimeError("the payment's transaction failed")
    with Session.begin() as session:
        touch(lock(session, cart_id))
        version = session.get(Cart, cart_id).version

    assert hints(cart_id) == [{"cart_id": cart_id, "version": version}]


def test_every_cart_route_publishes(client, hints, cart_id):
    versions = [
        client.patch(f"/api/carts/{cart_id}/items/A", json={"quantity": 2}).json["version"],
        client.post(f"/api/carts/{cart_id}/saved", json={"sku": "A"}).json["version"],
        client.post(
            f"/api/carts/{cart_id}/batch", json={"operations": [{"op": "move_to_cart", "sku": "A"}]}
        ).json["version"],
    ]

    assert [hint["version"] for hint in hints(cart_id)] == versions


def test_checkout_publishes_the_cart_version_it_moved_to(client, hints, cart_id, stripe_sandbox):
    body = {
        "email": "ada@example.com",
        "shipping_address": {
            "name": "Ada",
            "line1": "1 Main St",
            "city": "Springfield",
            "postal_code": "12345",
            "country": "US",
        },
    }
    with Session.begin() as session:
        version = session.get_one(Cart, cart_id).version

    assert client.post(f"/api/carts/{cart_id}/checkout", json=body).status_code == 201

    assert hints(cart_id) == [{"cart_id": cart_id, "version": version + 1}]


def test_a_redis_outage_does_not_fail_the_write(client, cart_id, monkeypatch):
    down = cart_hints.Publisher("redis://127.0.0.1:1/0")
    monkeypatch.setattr(cart_hints, "_publisher", down)

    response = client.patch(f"/api/carts/{cart_id}/items/A", json={"quantity": 2})

    assert response.status_code == 200 and response.json["items"][0]["quantity"] == 2
    assert down.publish({cart_id: 9}) == 0  # paused after the failure: no second timeout
