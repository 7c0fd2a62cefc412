"""Checkout routes orders over warehouses and never oversells stock spread over three."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import requests
from sqlalchemy import func, select

from models.db import Session
from models.orders.tables import Order, Shipment
from models.orders.timeline import OrderEvent
from models.stock import availability
from models.stock.tables import Reservation, StockLevel
from models.warehouses import edits
from tests.support import factories

NEW_YORK, CHICAGO, SAN_FRANCISCO = "10001", "60601", "94105"


def body(postal_code: str, country: str = "US") -> dict:
    address = {"name": "Ada", "line1": "1 Main St", "city": "X", "postal_code": postal_code}
    return {"email": "ada@example.com", "shipping_address": {**address, "country": country}}


def three_warehouses(session) -> None:
    factories.warehouse(session, "east", postal_code=NEW_YORK)
    factories.warehouse(session, "central", postal_code=CHICAGO)
    factories.warehouse(session, "west", postal_code=SAN_FRANCISCO)


def shipments_of(order_id: str) -> dict[str, list]:
    with Session() as session:
        rows = session.scalars(select(Shipment).where(Shipment.order_id == order_id))
        return {row.warehouse: row.items for row in rows}


def test_the_nearest_warehouse_holding_the_whole_order_ships_it(client, stripe_sandbox):
    with Session.begin() as session:
        three_warehouses(session)
        factories.product(session, "A", stock={"east": 5, "central": 5, "west": 5})
        west_coast = factories.cart(session, items={"A": 2}).id
        new_york = factories.cart(session, items={"A": 1}).id

    assert client.post(f"/api/carts/{west_coast}/checkout", json=body("94016")).status_code == 201
    assert client.post(f"/api/carts/{new_york}/checkout", json=body("10002")).status_code == 201

    with Session() as session:
        orders = {o.cart_id: str(o.id) for o in session.scalars(select(Order))}
        event = session.scalars(
            select(OrderEvent).where(
                OrderEvent.order_id == orders[west_coast], OrderEvent.kind == "allocated"
            )
        ).one()
    assert shipments_of(orders[west_coast]) == {"west": [{"sku": "A", "quantity": 2}]}
    assert shipments_of(orders[new_york]) == {"east": [{"sku": "A", "quantity": 1}]}
    assert event.data["shipments"][0]["warehouse"] == "west"
    assert "nearest of 3" in event.data["reason"]


def test_an_order_no_warehouse_covers_is_split_into_one_shipment_each(client, stripe_sandbox):
    with Session.begin() as session:
        three_warehouses(session)
        factories.product(session, "A", stock={"east": 1, "west": 5})
        factories.product(session, "B", stock={"central": 2})
        cart_id = factories.cart(session, items={"A": 1, "B": 1}).id

    response = client.post(f"/api/carts/{cart_id}/checkout", json=body(NEW_YORK))

    assert response.status_code == 201
    assert shipments_of(response.json["order_id"]) == {
        "central": [{"sku": "B", "quantity": 1}],
        "east": [{"sku": "A", "quantity": 1}],
    }


def test_only_active_warehouses_shipping_to_the_country_count(client, stripe_sandbox):
    with Session.begin() as session:
        factories.warehouse(session, "us-only", ships_to=["US"])
        factories.warehouse(session, "closed")
        factories.product(session, "A", stock={"main": 1, "us-only": 2, "closed": 4})
        edits.update(session, code="closed", changes={"active": False})
        cart_id = factories.cart(session, items={"A": 2}).id
        assert availability.available_units(session, ["A"]) == {"A": 3}
        assert availability.available_units(session, ["A"], country="us") == {"A": 3}
        assert availability.available_units(session, ["A"], country="FR") == {"A": 1}

    response = client.post(f"/api/carts/{cart_id}/checkout", json=body("75001", "FR"))

    assert response.status_code == 409
    assert response.json["items"] == [{"sku": "A", "requested": 2, "available": 1}]


def test_many_buyers_for_the_last_units_over_three_warehouses_never_oversell(
    live_server, stripe_sandbox
):
    stock = {"east": 3, "central": 3, "west": 4}
    with Session.begin() as session:
        three_warehouses(session)
        factories.product(session, "HOT", stock=stock)
        factories.product(session, "SIDE", stock={"east": 40, "west": 40})
        # Half the buyers want a second sku too, so some orders split.
        carts = [
            factories.cart(session, items={"HOT": 1, **({"SIDE": 1} if i % 2 else {})}).id
            for i in range(60)
        ]
    zips = [NEW_YORK, CHICAGO, SAN_FRANCISCO, "73301", "98101"]
    rng = random.Random(24)
    bodies = [body(rng.choice(zips)) for _ in carts]

    def buy(args):
        cart_id, payload = args
        response = requests.post(
            f"{live_server}/api/carts/{cart_id}/checkout", json=payload, timeout=60
        )
        return response.status_code, response.json()

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(buy, zip(carts, bodies, strict=True)))

    statuses = [status for status, _ in results]
    assert statuses.count(201) == 10 and statuses.count(409) == 50
    assert {b["error"] for status, b in results if status == 409} == {"out_of_stock"}
    with Session() as session:
        held = dict(
            session.execute(
                select(Reservation.warehouse, func.sum(Reservation.quantity))
                .where(Reservation.sku == "HOT", Reservation.status == "active")
                .group_by(Reservation.warehouse)
            ).all()
        )
        on_hand = dict(
            session.execute(
                select(StockLevel.warehouse, StockLevel.on_hand).where(StockLevel.sku == "HOT")
            ).all()
        )
        shipped_units = session.execute(select(Shipment.warehouse, Shipment.items)).all()
        assert availability.available_units(session, ["HOT"]) == {"HOT": 0}
    assert held == stock and on_hand == stock
    from_shipments: dict[str, int] = {}
    for warehouse, items in shipped_units:
        for item in items:
            if item["sku"] == "HOT":
                from_shipments[warehouse] = from_shipments.get(warehouse, 0) + item["quantity"]
    assert from_shipments == stock
