"""Admin shipments: each warehouse's part ships on its own, with its own email."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from models.db import Session
from models.orders import fulfilment
from models.orders.tables import Order, Shipment
from models.warehouses.routing import Allocation, Part
from tests.support import factories

AUTH = {"Authorization": "Bearer test-admin-token"}
UPS = {"carrier": "UPS", "tracking_number": "1Z999AA10123456784"}
DHL = {"carrier": "DHL", "tracking_number": "JD014600006281230704"}


def split_order(status: str = "paid") -> tuple[str, dict[str, int]]:
    """A paid order routed over two warehouses; returns it and its shipment id per warehouse."""
    with Session.begin() as session:
        factories.product(session, "A", stock={"east": 5})
        factories.product(session, "B", stock={"west": 5})
        order = factories.order(session, lines={"A": 1, "B": 2}, status=status)
        allocation = Allocation(
            parts=[Part("east", {"A": 1}, 10.0), Part("west", {"B": 2}, 900.0)],
            reason="split",
        )
        fulfilment.record_shipments(session, order_id=order.id, allocation=allocation)
        session.flush()
        shipments = session.scalars(select(Shipment).where(Shipment.order_id == order.id))
        ids = {s.warehouse: s.id for s in shipments}
        return str(order.id), ids


def ship_one(client, order_id, shipment_id, body):
    return client.post(
        f"/admin/api/orders/{order_id}/shipments/{shipment_id}/ship", json=body, headers=AUTH
    )


def test_each_shipment_ships_alone_and_the_order_is_partially_shipped_until_the_last(
    client, smtp_server, drain_queues
):
    order_id, ids = split_order()

    first = ship_one(client, order_id, ids["east"], UPS)
    assert first.status_code == 200
    assert first.json["status"] == "partially_shipped"
    by_warehouse = {s["warehouse"]: s for s in first.json["shipments"]}
    assert by_warehouse["east"]["status"] == "shipped"
    assert by_warehouse["east"]["carrier"] == "UPS"
    assert by_warehouse["west"]["status"] == "pending"
    assert by_warehouse["west"]["items"] == [{"sku": "B", "quantity": 2}]

    again = ship_one(client, order_id, ids["east"], DHL)
    assert again.status_code == 409 and again.json["error"] == "invalid_transition"

    last = ship_one(client, order_id, ids["west"], DHL)
    drain_queues()

    assert last.status_code == 200 and last.json["status"] == "shipped"
    assert [e["kind"] for e in last.json["events"]][-2:] == ["partially_shipped", "shipped"]
    subjects = sorted(m["Subject"] for m in smtp_server.messages)
    assert len(subjects) == 2 and all("shipped" in s for s in subjects)
    bodies = [m.get_body(preferencelist=("plain",)).get_content() for m in smtp_server.messages]
    assert any("1Z999AA10123456784" in b and "1 x Product A" in b for b in bodies)
    assert any("JD014600006281230704" in b and "2 x Product B" in b for b in bodies)
    detail = client.get(f"/admin/api/orders/{order_id}", headers=AUTH).json
    assert sorted(e["kind"] for e in detail["emails"]) == [
        f"shipping_notification.s{ids['east']}",
        f"shipping_notification.s{ids['west']}",
    ]


def test_ship_all_ships_every_pending_shipment_with_an_email_each(
    client, smtp_server, drain_queues
):
    order_id, ids = split_order()
    assert ship_one(client, order_id, ids["east"], UPS).status_code == 200

    response = client.post(f"/admin/api/orders/{order_id}/ship", json=DHL, headers=AUTH)
    drain_queues()

    assert response.status_code == 200 and response.json["status"] == "shipped"
    assert {s["carrier"] for s in response.json["shipments"]} == {"UPS", "DHL"}
    assert len(smtp_server.messages) == 2
    with Session() as session:
        assert session.get(Order, uuid.UUID(order_id)).tracking_number == DHL["tracking_number"]


def test_an_unpaid_order_or_unknown_shipment_does_not_ship(client):
    order_id, ids = split_order(status="pending_payment")
    refused = ship_one(client, order_id, ids["east"], UPS)
    assert refused.status_code == 409 and refused.json["error"] == "invalid_transition"

    paid_id, _ = split_order()
    assert ship_one(client, paid_id, 999_999, UPS).status_code == 404
    assert ship_one(client, paid_id, ids["east"], {"carrier": ""}).status_code == 422
