"""Bulk cart edits: all or nothing under one version, If-Match, Idempotency-Key."""

from __future__ import annotations

import json
import random
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from models.carts.tables import CartItem, SavedItem
from models.db import Session
from tests.support import factories
from tests.web.test_carts import add, new_cart

OPS = ["set_quantity", "remove", "save_for_later", "move_to_cart"]


@pytest.fixture
def products():
    with Session.begin() as session:
        factories.product(session, "A", price_cents=1000, stock={"main": 50})
        factories.product(session, "B", price_cents=250, stock={"main": 50})
        factories.product(session, "C", price_cents=100, stock={"main": 50})


def batch(client, cart_id, operations, **headers):
    return client.post(
        f"/api/carts/{cart_id}/batch", json={"operations": operations}, headers=headers
    )


def lines(body, key="items"):
    return {line["sku"]: line["quantity"] for line in body[key]}


def test_a_batch_applies_every_operation_under_one_version(client, products):
    cart = new_cart(client)
    for sku in "ABC":
        add(client, cart["id"], sku, 2)

    response = batch(
        client,
        cart["id"],
        [
            {"op": "set_quantity", "sku": "A", "quantity": 5},
            {"op": "remove", "sku": "B"},
            {"op": "save_for_later", "sku": "C"},
        ],
        **{"If-Match": '"4"'},
    )

    assert response.status_code == 200
    assert response.json["version"] == 5 and response.headers["ETag"] == '"5"'
    assert lines(response.json) == {"A": 5} and lines(response.json, "saved") == {"C": 2}

    back = batch(client, cart["id"], [{"op": "move_to_cart", "sku": "C"}])
    assert lines(back.json) == {"A": 5, "C": 2} and back.json["saved"] == []


def test_an_invalid_operation_names_its_index_and_nothing_applies(client, products):
    cart = new_cart(client)
    add(client, cart["id"], "A", 2)

    response = batch(
        client,
        cart["id"],
        [{"op": "set_quantity", "sku": "A", "quantity": 7}, {"op": "remove", "sku": "B"}],
    )

    assert response.status_code == 422
    assert response.json["index"] == 1 and response.json["errors"][0]["field"] == "operations.1"
    after = client.get(f"/api/carts/{cart['id']}").json
    assert lines(after) == {"A": 2} and after["version"] == 2


@pytest.mark.parametrize(
    "operations",
    [
        [],
        [{"op": "remove", "sku": "A"}] * 51,
        [{"op": "explode", "sku": "A"}],
        [{"op": "set_quantity", "sku": "A"}],
        [{"op": "remove", "sku": "A", "quantity": 1}],
        [{"op": "set_quantity", "sku": "A", "quantity": 100}],
    ],
)
def test_malformed_batches_are_refused(client, products, operations):
    cart = new_cart(client)
    add(client, cart["id"], "A", 2)

    response = batch(client, cart["id"], operations)

    assert response.status_code == 422 and response.json["error"] == "validation_error"
    assert client.get(f"/api/carts/{cart['id']}").json["version"] == 2


def test_a_stale_if_match_applies_nothing(client, products):
    cart = new_cart(client)
    add(client, cart["id"], "A", 2)

    response = batch(client, cart["id"], [{"op": "remove", "sku": "A"}], **{"If-Match": "1"})

    assert response.status_code == 409 and response.json["current_version"] == 2
    assert lines(client.get(f"/api/carts/{cart['id']}").json) == {"A": 2}


def test_an_idempotency_key_replays_the_first_response(client, products):
    cart = new_cart(client)
    add(client, cart["id"], "A", 2)
    operations = [{"op": "set_quantity", "sku": "A", "quantity": 3}]
    key = {"Idempotency-Key": "k-1", "If-Match": '"2"'}

    first = batch(client, cart["id"], operations, **key)
    again = batch(client, cart["id"], operations, **key)

    assert first.status_code == again.status_code == 200
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    assert client.get(f"/api/carts/{cart['id']}").json["version"] == 3
    other = batch(client, cart["id"], [{"op": "remove", "sku": "A"}], **{"Idempotency-Key": "k-1"})
    assert other.status_code == 409 and other.json["error"] == "idempotency_key_reused"


def test_one_key_sent_concurrently_applies_once(live_server, products):
    with Session.begin() as session:
        cart_id = factories.cart(session, items={"A": 1}).id
    operations = [{"op": "save_for_later", "sku": "A", "quantity": 1}]

    def send(_):
        return requests.post(
            f"{live_server}/api/carts/{cart_id}/batch",
            json={"operations": operations},
            headers={"Idempotency-Key": "same"},
            timeout=30,
        ).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(send, range(8))) == [200] * 8
    with Session() as session:
        assert session.scalar(select(SavedItem.quantity)) == 1


def test_100_concurrent_conflicting_updates_lose_nothing(live_server, products):
    """Each client reads the cart and writes with If-Match; on 409 it reads and tries
    again. The final cart is exactly what the accepted operations make it."""
    with Session.begin() as session:
        cart_id = factories.cart(session, items={"A": 1, "B": 1, "C": 1}).id
    url = f"{live_server}/api/carts/{cart_id}"
    start = requests.get(url, timeout=30).json()["version"]
    rng = random.Random(27)
    plans = [(rng.choice("ABC"), rng.randint(1, 9)) for _ in range(100)]

    def update(plan):
        sku, quantity = plan
        with requests.Session() as http:
            for _ in range(200):
                current = http.get(url, timeout=30)
                response = http.post(
                    f"{url}/batch",
                    json={"operations": [{"op": "set_quantity", "sku": sku, "quantity": quantity}]},
                    headers={"If-Match": current.headers["ETag"]},
                    timeout=30,
                )
                if response.status_code == 200:
                    return response.json()["version"], sku, quantity
                assert response.status_code == 409, response.text
        raise AssertionError("never accepted")

    with ThreadPoolExecutor(max_workers=20) as pool:
        accepted = sorted(pool.map(update, plans))

    versions = [version for version, _, _ in accepted]
    assert versions == list(range(start + 1, start + 101))  # each accepted, its own version
    expected = {"A": 1, "B": 1, "C": 1}
    for _, sku, quantity in accepted:
        expected[sku] = quantity
    final = requests.get(url, timeout=30).json()
    assert final["version"] == start + 100 and lines(final) == expected


operation = st.fixed_dictionaries(
    {"op": st.sampled_from([*OPS, "nope", ""]), "sku": st.sampled_from(["A", "B", "Z", "", 5])},
    optional={"quantity": st.none() | st.integers(-2, 101) | st.text(max_size=3) | st.booleans()},
)
bodies = st.fixed_dictionaries({"operations": st.lists(operation, max_size=55)}) | st.one_of(
    st.none(), st.integers(), st.lists(st.integers(), max_size=2), st.text(max_size=5)
)


@given(body=bodies)
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)
def test_any_batch_body_gets_200_or_4xx_and_a_refused_one_applies_nothing(client, products, body):
    with Session.begin() as session:
        cart_id = factories.cart(session, items={"A": 2, "B": 1}).id

    before = client.get(f"/api/carts/{cart_id}").json
    response = client.post(
        f"/api/carts/{cart_id}/batch", data=json.dumps(body), content_type="application/json"
    )

    assert response.status_code == 200 or 400 <= response.status_code < 500, response.json
    after = client.get(f"/api/carts/{cart_id}").json
    if response.status_code == 200:
        assert after == response.json and after["version"] == before["version"] + 1
    else:
        assert set(response.json) >= {"error", "message"}
        assert after == before
        with Session() as session:
            rows = select(func.count()).select_from(CartItem).where(CartItem.cart_id == cart_id)
            assert session.scalar(rows) == 2
