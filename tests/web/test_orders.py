"""Reading an order by its id."""

from __future__ import annotations

from models.db import Session
from tests.support import factories


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
