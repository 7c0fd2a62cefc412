"""Reading an order by its id."""

from __future__ import annotations

import json

from models.db import Session
from tests.support import factories
from web import visitor


def test_order_read(client):
    with Session.begin() as session:
        factories.product(session, "A")
        order = factories.order(session, lines={"A": 2})
        order_id, number = str(order.id), order.order_number

    response = client.get(f"/api/orders/{order_id}")
    assert response.status_code == 200
    body = response.json
    assert (body["order_id"], body["order_number"], body["status"]) == (
        order_id,
        number,
        "pending_payment",
    )
    assert body["items"] == [
        {"sku": "A", "name": "Product A", "quantity": 2, "unit_price_cents": 1000}
    ]
    assert (body["total_cents"], body["currency"], body["paid_at"]) == (2000, "usd", None)
    assert body["created_at"].endswith("Z")


def test_unknown_or_malformed_order_id_is_404(client):
    for order_id in ("00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        response = client.get(f"/api/orders/{order_id}")
        assert response.status_code == 404 and response.json["error"] == "not_found"


def test_order_read_json_keeps_its_shape_and_key_order(client):
    with Session.begin() as session:
        factories.product(session, "B")
        factories.product(session, "A")
        order = factories.order(session, lines={"B": 1, "A": 3}, status="paid")
        order.paid_at = order.created_at
        order_id = str(order.id)

    body = client.get(f"/api/orders/{order_id}").get_data(as_text=True)

    keys = ["order_id", "order_number", "status", "items", "subtotal_cents", "discount_cents"]
    keys += ["total_cents", "currency", "created_at", "paid_at"]
    assert list(json.loads(body)) == keys
    assert '"items":[{"sku":"A","name":"Product A","quantity":3,"unit_price_cents":1000},' in body
    assert json.loads(body)["paid_at"] == json.loads(body)["created_at"]


def test_only_a_purchased_order_with_an_email_ties_the_reader_to_it(client):
    with Session.begin() as session:
        factories.product(session, "A")
        pending = factories.order(session, lines={"A": 1}, email="ann@example.com")
        paid = factories.order(session, lines={"A": 1}, status="paid", email="ann@example.com")
        no_email = factories.order(session, lines={"A": 1}, status="shipped", email="")

    for order in (pending, no_email):
        assert client.get(f"/api/orders/{order.id}").status_code == 200
        assert client.get_cookie(visitor.COOKIE) is None
    assert client.get(f"/api/orders/{paid.id}").status_code == 200
    assert client.get_cookie(visitor.COOKIE) is not None
