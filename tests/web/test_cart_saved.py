"""Save for later: moves between the cart and its saved items, one version each."""

from __future__ import annotations

import pytest

from models.carts import lifecycle
from models.db import Session
from tests.support import factories
from tests.web.test_carts import add, new_cart


@pytest.fixture
def products():
    with Session.begin() as session:
        factories.product(session, "A", price_cents=1000, stock={"main": 10})
        factories.product(session, "B", price_cents=250, stock={"main": 3})
        factories.product(session, "GONE", price_cents=500, stock={"main": 0})


def test_saving_a_line_moves_it_out_of_the_cart_in_one_version(client, products):
    cart = new_cart(client)
    add(client, cart["id"], "A", 3)

    response = client.post(
        f"/api/carts/{cart['id']}/saved", json={"sku": "A"}, headers={"If-Match": '"2"'}
    )

    assert response.status_code == 200
    body = response.json
    assert body["version"] == 3 and response.headers["ETag"] == '"3"'
    assert body["items"] == [] and body["total_cents"] == 0
    assert body["saved"] == [
        {
            "sku": "A",
            "name": "Product A",
            "quantity": 3,
            "current_price_cents": 1000,
            "in_stock": True,
        }
    ]
    assert client.get(f"/api/carts/{cart['id']}").json["saved"] == body["saved"]


def test_saving_part_of_a_line_and_moving_it_back(client, products):
    cart = new_cart(client)
    add(client, cart["id"], "A", 3)

    saved = client.post(f"/api/carts/{cart['id']}/saved", json={"sku": "A", "quantity": 2}).json
    assert [(i["sku"], i["quantity"]) for i in saved["items"]] == [("A", 1)]
    assert [(i["sku"], i["quantity"]) for i in saved["saved"]] == [("A", 2)]

    back = client.post(f"/api/carts/{cart['id']}/saved/A/move-to-cart")
    assert back.status_code == 200
    assert [(i["sku"], i["quantity"]) for i in back.json["items"]] == [("A", 3)]
    assert back.json["saved"] == [] and back.json["version"] == saved["version"] + 1


def test_saving_a_product_not_in_the_cart_and_deleting_it(client, products):
    cart = new_cart(client)

    saved = client.post(f"/api/carts/{cart['id']}/saved", json={"sku": "GONE"})
    assert saved.json["saved"][0]["in_stock"] is False  # shows today's stock

    gone = client.delete(f"/api/carts/{cart['id']}/saved/GONE")
    assert gone.status_code == 200 and gone.json["saved"] == []
    assert client.delete(f"/api/carts/{cart['id']}/saved/GONE").status_code == 404


def test_saved_items_show_todays_price(client, products):
    cart = new_cart(client)
    client.post(f"/api/carts/{cart['id']}/saved", json={"sku": "B", "quantity": 2})
    with Session.begin() as session:
        factories.product(session, "B", price_cents=199, stock={"main": 3})

    assert client.get(f"/api/carts/{cart['id']}").json["saved"][0]["current_price_cents"] == 199


def test_moving_to_cart_checks_stock_and_changes_nothing_when_short(client, products):
    cart = new_cart(client)
    client.post(f"/api/carts/{cart['id']}/saved", json={"sku": "GONE", "quantity": 1})

    response = client.post(f"/api/carts/{cart['id']}/saved/GONE/move-to-cart")

    assert response.status_code == 409 and response.json["error"] == "out_of_stock"
    after = client.get(f"/api/carts/{cart['id']}").json
    assert after["items"] == [] and [s["sku"] for s in after["saved"]] == ["GONE"]
    assert after["version"] == 2


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"sku": "NOPE"}, 404),
        ({"sku": "A", "quantity": 0}, 422),
        ({"sku": "A", "quantity": 100}, 422),
        ({"sku": ""}, 422),
        ({"quantity": 1}, 422),
    ],
)
def test_bad_saves_change_nothing(client, products, body, status):
    cart = new_cart(client)

    response = client.post(f"/api/carts/{cart['id']}/saved", json=body)

    assert response.status_code == status
    assert client.get(f"/api/carts/{cart['id']}").json["version"] == 1


def test_a_stale_if_match_is_refused(client, products):
    cart = new_cart(client)
    add(client, cart["id"], "A", 1)

    response = client.post(
        f"/api/carts/{cart['id']}/saved", json={"sku": "A"}, headers={"If-Match": '"1"'}
    )

    assert response.status_code == 409 and response.json["current_version"] == 2


def test_saved_items_outlive_the_carts_completion(client, products):
    with Session.begin() as session:
        cart_id = factories.cart(session, items={"A": 1}).id
    client.post(f"/api/carts/{cart_id}/saved", json={"sku": "B"})
    with Session.begin() as session:
        assert lifecycle.complete_cart(session, cart_id=cart_id)  # the paid order's path

    after = client.get(f"/api/carts/{cart_id}").json
    assert after["status"] == "completed" and after["items"] == []
    assert [s["sku"] for s in after["saved"]] == ["B"]
