"""Product listing and detail: search, cursor paging, availability net of reservations."""

from __future__ import annotations

from models.base import utcnow
from models.catalog import Product
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
        "description": "",
        "price_cents": 100,
        "currency": "usd",
        "available": 10,
        "images": [],
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
    from services.settings import get_settings

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


def catalogue() -> None:
    """Five products whose name, price and sku orders all differ; two share a price."""
    with Session.begin() as session:
        for sku, name, price, on_hand in [
            ("P-1", "Teapot", 3000, 5),
            ("P-2", "Apron", 1500, 0),
            ("P-3", "Mug", 1500, 2),
            ("P-4", "Kettle", 4500, 1),
            ("P-5", "Cup", 500, 9),
        ]:
            factories.product(session, sku, price_cents=price, stock={"main": on_hand})
            session.get(Product, sku).name = name


def listed(client, query: str) -> list[str]:
    response = client.get(f"/api/products?{query}")
    assert response.status_code == 200, response.json
    return [p["sku"] for p in response.json["items"]]


def every_page(client, query: str, limit: int) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        suffix = f"&cursor={cursor}" if cursor else ""
        body = client.get(f"/api/products?{query}&limit={limit}{suffix}").json
        pages.append([p["sku"] for p in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


def test_each_sort_orders_the_listing(client):
    catalogue()
    assert listed(client, "sort=name") == ["P-2", "P-5", "P-4", "P-3", "P-1"]
    assert listed(client, "") == listed(client, "sort=name")  # name is the default
    assert listed(client, "sort=price") == ["P-5", "P-2", "P-3", "P-1", "P-4"]
    assert listed(client, "sort=-price") == ["P-4", "P-1", "P-3", "P-2", "P-5"]


def test_cursors_page_through_every_sort_without_gaps_or_repeats(client):
    catalogue()
    for sort in ("name", "price", "-price"):
        for limit in (1, 2, 3):
            pages = every_page(client, f"sort={sort}", limit)
            flat = [sku for page in pages for sku in page]
            assert flat == listed(client, f"sort={sort}"), (sort, limit)
            assert all(len(page) == limit for page in pages[:-1])


def test_paging_is_keyset_so_a_product_added_behind_the_cursor_shifts_nothing(client):
    catalogue()
    first = client.get("/api/products?sort=price&limit=2").json
    with Session.begin() as session:
        factories.product(session, "P-0", price_cents=100)  # sorts before the first page

    second = client.get(f"/api/products?sort=price&limit=10&cursor={first['next_cursor']}").json

    assert [p["sku"] for p in first["items"]] == ["P-5", "P-2"]
    assert [p["sku"] for p in second["items"]] == ["P-3", "P-1", "P-4"]


def test_price_range_is_inclusive_and_combines_with_search(client):
    catalogue()
    assert listed(client, "sort=price&min_price_cents=1500") == ["P-2", "P-3", "P-1", "P-4"]
    assert listed(client, "sort=price&max_price_cents=1500") == ["P-5", "P-2", "P-3"]
    assert listed(client, "min_price_cents=1500&max_price_cents=1500") == ["P-2", "P-3"]
    assert listed(client, "q=u&max_price_cents=1500") == ["P-5", "P-3"]  # Cup, Mug
    assert listed(client, "min_price_cents=&max_price_cents=") == listed(client, "")


def test_in_stock_counts_live_reservations_and_ignores_expired_ones(client):
    catalogue()
    with Session.begin() as session:
        order = factories.order(session, lines={"P-3": 2, "P-4": 1})
        reservations.reserve(
            session,
            order_id=order.id,
            quantities={"P-3": 2},
            expires_at=utcnow().replace(year=2999),
        )
        expired = utcnow().replace(year=2001)
        reservations.reserve(session, order_id=order.id, quantities={"P-4": 1}, expires_at=expired)
    in_stock = client.get("/api/products?in_stock=true&sort=price").json["items"]
    assert [(p["sku"], p["available"]) for p in in_stock] == [("P-5", 9), ("P-1", 5), ("P-4", 1)]
    assert listed(client, "in_stock=false&sort=price") == ["P-2", "P-3"]


def test_in_stock_pages_with_cursors(client):
    catalogue()
    pages = every_page(client, "in_stock=true&sort=-price", 2)
    assert pages == [["P-4", "P-1"], ["P-3", "P-5"]]


def test_a_product_without_stock_rows_is_out_of_stock(client):
    with Session.begin() as session:
        factories.product(session, "BARE", stock={})
    assert listed(client, "in_stock=true") == []
    assert client.get("/api/products?in_stock=false").json["items"][0]["available"] == 0


def test_bad_filter_values_are_422_naming_the_parameter(client):
    catalogue()
    cursor = client.get("/api/products?sort=price&limit=1").json["next_cursor"]
    cases = {
        "min_price_cents=-1": "min_price_cents",
        "min_price_cents=abc": "min_price_cents",
        "max_price_cents=1.5": "max_price_cents",
        "max_price_cents=99999999999": "max_price_cents",
        "min_price_cents=500&max_price_cents=100": "max_price_cents",
        "in_stock=maybe": "in_stock",
        "sort=sku": "sort",
        "sort=-name": "sort",
        "limit=0": "limit",
        "q=" + "x" * 201: "q",
        f"sort=name&cursor={cursor}": "cursor",  # a price cursor under another sort
    }
    for query, field in cases.items():
        response = client.get(f"/api/products?{query}")
        assert response.status_code == 422, query
        assert response.json["error"] == "validation_error", query
        assert [e["field"] for e in response.json["errors"]] == [field], query


def test_forged_cursors_are_422(client):
    from web import cursors

    forged = [
        cursors.encode('["price","1500","P-1"]'),  # a price that is not an int
        cursors.encode('["price",true,"P-1"]'),
        cursors.encode('["price",1500]'),
        cursors.encode('["price",1500,""]'),
        cursors.encode('["price",1500,"P\\u0000"]'),
        cursors.encode('{"sort":"price"}'),
        cursors.encode("not json"),
    ]
    for cursor in forged:
        response = client.get(f"/api/products?sort=price&cursor={cursor}")
        assert response.status_code == 422, cursor
        assert response.json["errors"][0]["field"] == "cursor"


def test_a_name_with_separators_pages_correctly(client):
    with Session.begin() as session:
        for sku, name in [("S-1", 'a|b"c'), ("S-2", 'a|b"c'), ("S-3", "zé|")]:
            factories.product(session, sku)
            session.get(Product, sku).name = name
    assert [page for page in every_page(client, "sort=name", 1) if page] == [
        ["S-1"],
        ["S-2"],
        ["S-3"],
    ]


def test_in_stock_answers_503_when_stock_cannot_be_read(client, monkeypatch):
    from sqlalchemy import text

    from models import db
    from services.settings import get_settings

    seed(1)
    monkeypatch.setenv("STOCK_QUERY_TIMEOUT_MS", "100")
    get_settings.cache_clear()
    with db.engine().connect() as blocker:
        blocker.execute(text("LOCK TABLE stock_levels IN ACCESS EXCLUSIVE MODE"))
        filtered = client.get("/api/products?in_stock=true")
        blocker.rollback()
    get_settings.cache_clear()
    assert filtered.status_code == 503 and filtered.json["error"] == "stock_unavailable"
