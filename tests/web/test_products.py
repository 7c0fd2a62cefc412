"""Product listing and detail: search, cursor paging, availability net of reservations."""

from __future__ import annotations

from models.base import utcnow
from models.db import Session
from models.stock import reservations
from tests.support import factories


def seed(count: int = 5) -> None:
    with Session.begin() as session:
        for number in range(count):
            factories.product(session, f"SKU-{number}", price_cents=100 + number)


def test_list_pages_with_a_cursor(client):
    seed(5)
    first = client.get("/api/products?limit=2").json
    second = client.get(f"/api/products?limit=2&cursor={first['next_cursor']}").json
    third = client.get(f"/api/products?limit=2&cursor={second['next_cursor']}").json

    assert [p["sku"] for p in first["items"]] == ["SKU-0", "SKU-1"]
    assert [p["sku"] for p in second["items"]] == ["SKU-2", "SKU-3"]
    assert [p["sku"] for p in third["items"]] == ["SKU-4"] and third["next_cursor"] is None
    assert first["items"][0] == {
        "sku": "SKU-0",
        "name": "Product SKU-0",
        "price_cents": 100,
        "currency": "usd",
        "available": 10,
    }


def test_search_matches_name_or_sku_case_insensitively(client):
    seed(3)
    with Session.begin() as session:
        factories.product(session, "MUG")
        factories.product(session, "50%_OFF")
    assert [p["sku"] for p in client.get("/api/products?q=mug").json["items"]] == ["MUG"]
    assert len(client.get("/api/products?q=product sku").json["items"]) == 3
    assert [p["sku"] for p in client.get("/api/products?q=%25_").json["items"]] == ["50%_OFF"]
    assert client.get("/api/products?q=zzz").json == {"items": [], "next_cursor": None}


def test_available_is_on_hand_minus_active_reservations(client):
    with Session.begin() as session:
        factories.product(session, "A", stock={"east": 2, "west": 5})
        order = factories.order(session, lines={"A": 3})
        reservations.reserve(
            session, order_id=order.id, quantities={"A": 3}, expires_at=utcnow().replace(year=2999)
        )
    assert client.get("/api/products/A").json["available"] == 4


def test_unknown_product_is_404(client):
    response = client.get("/api/products/NOPE")
    assert response.status_code == 404 and response.json["error"] == "not_found"


def test_bad_query_parameters_are_422(client):
    for query in ("limit=0", "limit=101", "limit=abc", "cursor=%%%", "cursor=__8"):
        response = client.get(f"/api/products?{query}")
        assert response.status_code == 422, query
        assert response.json["error"] == "validation_error"


def test_unverifiable_stock_shows_as_null(client, monkeypatch):
    from sqlalchemy import text

    from models import db
    from worker.settings import get_settings

    seed(1)
    monkeypatch.setenv("STOCK_QUERY_TIMEOUT_MS", "100")
    get_settings.cache_clear()
    with db.engine().connect() as blocker:
        blocker.execute(text("LOCK TABLE stock_levels IN ACCESS EXCLUSIVE MODE"))
        listing = client.get("/api/products").json
        one = client.get("/api/products/SKU-0").json
        blocker.rollback()
    get_settings.cache_clear()
    assert listing["items"][0]["available"] is None and one["available"] is None
