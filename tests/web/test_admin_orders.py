"""Admin orders: ship (with its notification email), detail with timeline, filtered list."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import select

from models.db import Session
from models.infra.outbox import OutboxMessage
from models.orders.tables import Order
from models.orders.timeline import OrderEvent
from tests.support import factories

AUTH = {"Authorization": "Bearer test-admin-token"}


def make_order(status: str = "paid", **fields) -> str:
    with Session.begin() as session:
        factories.product(session, "TEE-1")
        order = factories.order(session, lines={"TEE-1": 2}, status=status, **fields)
        return str(order.id)


def ship(client, order_id: str, body=None):
    body = body if body is not None else {"carrier": "UPS", "tracking_number": "1Z999AA10123456784"}
    return client.post(f"/admin/api/orders/{order_id}/ship", json=body, headers=AUTH)


def test_ship_marks_shipped_records_the_event_and_emails_the_tracking_link(
    client, smtp_server, drain_queues
):
    order_id = make_order()

    response = ship(client, order_id)
    drain_queues()

    assert response.status_code == 200
    assert response.json["status"] == "shipped"
    assert response.json["shipment"]["carrier"] == "UPS"
    assert [event["kind"] for event in response.json["events"]] == ["shipped"]
    with Session() as session:
        order = session.get(Order, uuid.UUID(order_id))
        assert order.status == "shipped"
        assert order.tracking_number == "1Z999AA10123456784"
    [message] = smtp_server.messages
    assert "has shipped" in message["Subject"]
    html = message.get_body(preferencelist=("html",)).get_content()
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "https://www.ups.com/track?tracknum=1Z999AA10123456784" in html
    assert "Tracking number: 1Z999AA10123456784" in text
    assert "UPS" in text
    detail = client.get(f"/admin/api/orders/{order_id}", headers=AUTH).json
    assert [(e["kind"], e["status"]) for e in detail["emails"]] == [
        ("shipping_notification", "sent")
    ]


def test_ship_twice_is_an_invalid_transition_and_sends_one_email(client, smtp_server, drain_queues):
    order_id = make_order()

    assert ship(client, order_id).status_code == 200
    second = ship(client, order_id)
    drain_queues()

    assert second.status_code == 409
    assert second.json["error"] == "invalid_transition"
    assert second.json["current_status"] == "shipped"
    assert len(smtp_server.messages) == 1


@pytest.mark.parametrize("status", ["pending_payment", "canceled", "refunded"])
def test_only_paid_orders_can_ship(client, status):
    order_id = make_order(status)

    response = ship(client, order_id)

    assert response.status_code == 409
    assert response.json["error"] == "invalid_transition"
    with Session() as session:
        assert session.get(Order, uuid.UUID(order_id)).status == status
        assert session.scalars(select(OrderEvent)).all() == []
        assert session.scalars(select(OutboxMessage)).all() == []


@pytest.mark.parametrize(
    "body",
    [{}, {"carrier": "UPS"}, {"carrier": "", "tracking_number": "1"}, {"carrier": "UPS", "x": 1}],
)
def test_ship_body_is_validated(client, body):
    order_id = make_order()

    response = ship(client, order_id, body)

    assert response.status_code == 422
    assert response.json["error"] == "validation_error"


def test_ship_unknown_or_malformed_order_is_404(client):
    assert ship(client, str(uuid.uuid4())).status_code == 404
    assert ship(client, "not-a-uuid").status_code == 404


def test_routes_require_the_admin_token(client):
    order_id = make_order()
    response = client.post(
        f"/admin/api/orders/{order_id}/ship", json={"carrier": "UPS", "tracking_number": "1"}
    )
    assert response.status_code == 401
    assert client.get("/admin/api/orders").status_code == 401


def test_detail_shows_items_timeline_and_reservation_errors(client):
    errors = [{"sku": "TEE-1", "warehouse": "main", "quantity": 2, "available": 0}]
    order_id = make_order()
    with Session.begin() as session:
        order = session.get(Order, uuid.UUID(order_id))
        order.confirmation_errors = errors
        order.events.append(OrderEvent(kind="paid", data={"event_id": "evt_1"}))

    response = client.get(f"/admin/api/orders/{order_id}", headers=AUTH)

    assert response.status_code == 200
    body = response.json
    assert body["order_id"] == order_id
    assert body["items"] == [
        {"sku": "TEE-1", "name": "Product TEE-1", "quantity": 2, "unit_price_cents": 1000}
    ]
    assert body["shipping_address"]["city"] == "Springfield"
    assert body["reservation_errors"] == errors
    assert [(e["kind"], e["data"]) for e in body["events"]] == [("paid", {"event_id": "evt_1"})]
    assert client.get(f"/admin/api/orders/{uuid.uuid4()}", headers=AUTH).status_code == 404


def test_list_filters_and_pages_newest_first(client):
    start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    with Session.begin() as session:
        factories.product(session, "TEE-1")
        ids = [
            str(
                factories.order(
                    session,
                    lines={"TEE-1": 1},
                    status="paid" if day % 2 else "pending_payment",
                    email="a@example.com" if day < 4 else "b@example.com",
                    created_at=start + dt.timedelta(days=day),
                ).id
            )
            for day in range(6)
        ]

    def listed(query: str) -> list[str]:
        response = client.get(f"/admin/api/orders?{query}", headers=AUTH)
        assert response.status_code == 200, response.json
        return [item["order_id"] for item in response.json["items"]]

    assert listed("") == ids[::-1]
    assert listed("status=paid") == [ids[5], ids[3], ids[1]]
    assert listed("email=b@example.com") == [ids[5], ids[4]]
    # Nov 2 (day 1) and Nov 3 (day 2); ``to`` is exclusive.
    assert listed("from=2026-11-02&to=2026-11-04T00:00:00Z") == [ids[2], ids[1]]

    seen, cursor = [], ""
    while True:
        page = client.get(f"/admin/api/orders?limit=4{cursor}", headers=AUTH).json
        seen += [item["order_id"] for item in page["items"]]
        if not page["next_cursor"]:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert seen == ids[::-1]


@pytest.mark.parametrize(
    "query", ["status=lost", "limit=0", "limit=201", "from=yesterday", "cursor=%%%"]
)
def test_list_rejects_bad_filters(client, query):
    response = client.get(f"/admin/api/orders?{query}", headers=AUTH)
    assert response.status_code == 422
    assert response.json["error"] == "validation_error"


def test_list_filters_count_and_sorts_page_by_cursor(client):
    with Session.begin() as session:
        factories.product(session, "TEE-1")
        for quantity in (1, 2, 3, 4, 5):
            order = factories.order(session, lines={"TEE-1": quantity}, status="paid")
            order.shipping_address = {**order.shipping_address, "name": f"Grace {quantity}"}
        factories.order(session, lines={"TEE-1": 9}, status="pending_payment")

    def listing(query: str) -> dict:
        response = client.get(f"/admin/api/orders?{query}", headers=AUTH)
        assert response.status_code == 200, response.json
        return response.json

    cheap_first = listing("status=paid&sort=total_asc&limit=2&min_total=2000")
    rest = listing(
        f"status=paid&sort=total_asc&limit=2&min_total=2000&cursor={cheap_first['next_cursor']}"
    )

    assert cheap_first["count"] == 4
    totals = [o["total_cents"] for o in cheap_first["items"] + rest["items"]]
    assert totals == [2000, 3000, 4000, 5000]
    assert listing("customer=grace 3")["count"] == 1
    assert listing("max_total=1000&status=&customer=")["count"] == 1
    number = cheap_first["items"][0]["order_number"]
    assert [o["order_number"] for o in listing(f"order_number={number.lower()}")["items"]] == [
        number
    ]
    stale = client.get(
        f"/admin/api/orders?sort=newest&cursor={cheap_first['next_cursor']}", headers=AUTH
    )
    assert stale.status_code == 422
