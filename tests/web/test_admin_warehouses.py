"""Admin warehouses and stock: create, edit, deactivate (busy when reserved), grid,
adjustments with a reason, atomic transfers; all audited."""

from __future__ import annotations

from sqlalchemy import select

from models.audit import AuditEntry
from models.base import utcnow
from models.db import Session
from models.staff import Role
from models.stock import reservations
from models.stock.tables import StockLevel
from models.warehouses.tables import Warehouse
from tests.support import factories
from tests.web.admin_helpers import logged_in

AUTH = {"Authorization": "Bearer test-admin-token"}
EAST = {"code": "east", "name": "East", "country": "us", "postal_code": "10001"}


def post(client, path, body):
    return client.post(f"/admin/api{path}", json=body, headers=AUTH)


def on_hand(sku: str) -> dict[str, int]:
    with Session() as session:
        rows = session.execute(
            select(StockLevel.warehouse, StockLevel.on_hand).where(StockLevel.sku == sku)
        )
        return dict(rows.all())


def test_create_places_a_us_postal_code_and_lists_it(client):
    created = post(client, "/warehouses", {**EAST, "ships_to": ["us", "ca"], "priority": 3})

    assert created.status_code == 201
    assert created.json["country"] == "US" and created.json["ships_to"] == ["CA", "US"]
    assert round(created.json["latitude"]) == 41 and round(created.json["longitude"]) == -74
    assert post(client, "/warehouses", EAST).json["error"] == "warehouse_exists"
    codes = [w["code"] for w in client.get("/admin/api/warehouses", headers=AUTH).json["items"]]
    assert codes == ["east", "main"]
    bad = post(client, "/warehouses", {**EAST, "code": "x y", "country": "USA"})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json["errors"]} == {"code", "country"}
    nulled = client.patch("/admin/api/warehouses/east", json={"name": None}, headers=AUTH)
    assert nulled.status_code == 422 and nulled.json["errors"][0]["field"] == "name"
    cleared = client.patch("/admin/api/warehouses/east", json={"postal_code": None}, headers=AUTH)
    assert cleared.status_code == 200 and cleared.json["postal_code"] is None


def test_edit_and_deactivate_but_not_while_reservations_are_live(client):
    post(client, "/warehouses", EAST)
    with Session.begin() as session:
        factories.product(session, "A", stock={"east": 2})
        order = factories.order(session)
        reservations.reserve(
            session,
            order_id=order.id,
            quantities={"A": 1},
            expires_at=utcnow().replace(year=utcnow().year + 1),
        )

    busy = client.patch("/admin/api/warehouses/east", json={"active": False}, headers=AUTH)
    assert busy.status_code == 409 and busy.json["error"] == "warehouse_busy"
    assert busy.json["reserved"] == 1

    with Session.begin() as session:
        reservations.release(session, order_id=order.id)
    done = client.patch(
        "/admin/api/warehouses/east", json={"active": False, "name": "East (closed)"}, headers=AUTH
    )
    assert done.status_code == 200 and done.json["active"] is False
    with Session() as session:
        assert session.get(Warehouse, "east").name == "East (closed)"
        actions = session.scalars(select(AuditEntry.target).where(AuditEntry.target.isnot(None)))
        assert "warehouse:east" in set(actions)


def test_product_stock_names_known_warehouses_only(client):
    body = {"name": "Mug", "price_cents": 900, "stock": {"main": 3, "nowhere": 1}}
    response = client.put("/admin/api/products/MUG", json=body, headers=AUTH)

    assert response.status_code == 422
    assert response.json["errors"] == [
        {"field": "stock.nowhere", "message": "no warehouse has this code"}
    ]
    with Session() as session:
        assert session.scalars(select(StockLevel)).all() == []


def test_grid_adjustments_and_transfers(client):
    post(client, "/warehouses", {**EAST, "low_stock_threshold": 2})
    with Session.begin() as session:
        factories.product(session, "A", stock={"main": 5, "east": 1})
        factories.product(session, "B", stock={"main": 9})

    no_reason = post(client, "/stock/adjustments", {"sku": "A", "warehouse": "main", "delta": 1})
    assert no_reason.status_code == 422
    adjusted = post(
        client,
        "/stock/adjustments",
        {"sku": "A", "warehouse": "main", "delta": -2, "reason": "two broken in the aisle"},
    )
    assert adjusted.status_code == 201 and adjusted.json["on_hand"] == 3
    too_many = post(
        client,
        "/stock/adjustments",
        {"sku": "A", "warehouse": "main", "delta": -4, "reason": "count"},
    )
    assert too_many.status_code == 409 and too_many.json["error"] == "out_of_stock"

    moved = post(
        client, "/stock/transfers", {"sku": "A", "from": "main", "to": "east", "quantity": 2}
    )
    assert moved.status_code == 201
    assert on_hand("A") == {"main": 1, "east": 3}
    short = post(
        client, "/stock/transfers", {"sku": "A", "from": "main", "to": "east", "quantity": 2}
    )
    assert short.status_code == 409 and short.json["error"] == "out_of_stock"
    assert short.json["available"] == 1 and on_hand("A") == {"main": 1, "east": 3}

    cells = client.get("/admin/api/stock?sku=A&warehouse=", headers=AUTH).json["items"]
    assert [(c["warehouse"], c["on_hand"], c["reserved"], c["available"]) for c in cells] == [
        ("east", 3, 0, 3),
        ("main", 1, 0, 1),
    ]
    low = client.get("/admin/api/stock?low=true", headers=AUTH).json["items"]
    assert [(c["sku"], c["warehouse"]) for c in low] == [("A", "main")]
    first = client.get("/admin/api/stock?limit=2", headers=AUTH).json
    rest = client.get(f"/admin/api/stock?limit=2&cursor={first['next_cursor']}", headers=AUTH).json
    assert [c["sku"] for c in first["items"] + rest["items"]] == ["A", "A", "B"]
    with Session() as session:
        details = session.scalars(
            select(AuditEntry.details).where(AuditEntry.action == "adjust_stock")
        ).all()
    assert any(d.get("reason") == "two broken in the aisle" for d in details)


def test_a_viewer_reads_warehouses_and_stock_but_changes_nothing(client):
    token = logged_in(client, Role.VIEWER)
    headers = {"X-CSRFToken": token}

    assert client.get("/admin/api/warehouses").status_code == 200
    assert client.get("/admin/api/stock").status_code == 200
    refused = client.post("/admin/api/warehouses", json=EAST, headers=headers)
    moved = client.post(
        "/admin/api/stock/transfers",
        json={"sku": "A", "from": "main", "to": "main", "quantity": 1},
        headers=headers,
    )

    assert refused.status_code == 403 and moved.status_code == 403
    with Session() as session:
        assert session.get(Warehouse, "east") is None
