"""Recommendation routes: customers also bought, cart upsells, the visitor's picks."""

from __future__ import annotations

from sqlalchemy import select

from jobs.recommendations import rebuild
from models.catalog import Product
from models.db import Session
from models.recommendations.build import BuildSettings
from models.recommendations.tables import ProductView, RecommendationExclusion
from tests.support import factories
from web import visitor


def _store():
    """Six products. Paid orders: A+B four times, A+C three times, A+D twice, B+C twice,
    E alone five times (the bestseller); F never sold. D is out of stock."""
    with Session.begin() as session:
        for sku in "ABCEF":
            factories.product(session, sku)
        factories.product(session, "D", stock={"main": 0})
        baskets = [["A", "B"]] * 4 + [["A", "C"]] * 3 + [["A", "D"]] * 2 + [["B", "C"]] * 2
        for lines in baskets + [["E"]] * 6:
            factories.order(session, lines=dict.fromkeys(lines, 1), status="paid")
    rebuild(BuildSettings(min_support=2))


def _skus(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [item["sku"] for item in response.get_json()["items"]]


def test_customers_also_bought_leaves_out_the_product_itself_and_what_is_out_of_stock(client):
    _store()

    response = client.get("/api/products/A/recommendations?limit=5")

    # Cosine: B 4/sqrt(9*6) = 0.544, C 3/sqrt(9*5) = 0.447; D is out of stock.
    assert _skus(response) == ["B", "C"]
    item = response.get_json()["items"][0]
    # API.md's product shape, images (ready renditions only) included.
    assert set(item) == {
        "sku",
        "name",
        "description",
        "price_cents",
        "currency",
        "available",
        "images",
    }
    assert item["available"] == 10 and item["images"] == []


def test_an_inactive_product_is_never_recommended(client):
    _store()
    with Session.begin() as session:
        session.get(Product, "B").active = False

    assert _skus(client.get("/api/products/A/recommendations")) == ["C"]
    assert "B" not in _skus(client.get("/api/recommendations?limit=20"))


def test_ineligible_best_candidates_do_not_cut_the_list_short(client):
    _store()
    with Session.begin() as session:
        session.get(Product, "B").active = False
        session.get(Product, "A").active = False
        cart = factories.cart(session, items={"C": 1})

    # A's best neighbour (B) is inactive: the limit counts eligible products only.
    assert _skus(client.get("/api/products/A/recommendations?limit=1")) == ["C"]
    # Bestsellers A (9 orders) and B (6) are inactive: E (6, the later sku first), C (5).
    # The cart's C has only inactive neighbours, and it is never offered: E alone (D is
    # out of stock, F never sold).
    assert _skus(client.get("/api/recommendations?limit=2")) == ["E", "C"]
    assert _skus(client.get(f"/api/carts/{cart.id}/recommendations?limit=2")) == ["E"]


def test_an_empty_cart_gets_bestsellers(client):
    _store()
    with Session.begin() as session:
        cart = factories.cart(session)

    # A: 9 orders; B and E: 6 each, the later sku first; D is out of stock.
    assert _skus(client.get(f"/api/carts/{cart.id}/recommendations?limit=4")) == [
        "A",
        "E",
        "B",
        "C",
    ]


def test_a_product_staff_excluded_is_never_recommended(client):
    _store()
    with Session.begin() as session:
        session.add(RecommendationExclusion(sku="B", excluded_by="ops@example.com"))

    assert _skus(client.get("/api/products/A/recommendations")) == ["C"]
    assert "B" not in _skus(client.get("/api/recommendations?limit=20"))


def test_limit_and_unknown_product(client):
    _store()

    assert _skus(client.get("/api/products/A/recommendations?limit=1")) == ["B"]
    missing = client.get("/api/products/NOPE/recommendations")
    assert missing.status_code == 404 and missing.get_json()["error"] == "not_found"
    for bad in ("0", "21", "x", "1.5"):
        refused = client.get(f"/api/products/A/recommendations?limit={bad}")
        assert refused.status_code == 422
        assert [error["field"] for error in refused.get_json()["errors"]] == ["limit"]


def test_cart_upsells_skip_the_cart_items_and_fill_up_with_bestsellers(client):
    _store()
    with Session.begin() as session:
        cart = factories.cart(session, items={"B": 1, "C": 1})

    skus = _skus(client.get(f"/api/carts/{cart.id}/recommendations?limit=3"))

    assert skus == ["A", "E"]  # A: bought with both; E: the bestseller; D out of stock
    missing = client.get("/api/carts/nope/recommendations")
    assert missing.status_code == 404


def test_cart_upsells_skip_what_the_cart_saved_for_later(client):
    _store()
    with Session.begin() as session:
        cart = factories.cart(session, items={"B": 1, "C": 1})
    assert client.post(f"/api/carts/{cart.id}/saved", json={"sku": "E"}).status_code == 200

    skus = _skus(client.get(f"/api/carts/{cart.id}/recommendations?limit=3"))

    assert skus == ["A"]  # E is saved: never offered; F never sold, D out of stock


def test_a_new_visitor_gets_bestsellers(client):
    _store()

    body = client.get("/api/recommendations?limit=2").get_json()

    assert body["source"] == "bestsellers"
    assert [item["sku"] for item in body["items"]] == ["A", "E"]  # 9 orders, then 6


def test_viewing_a_product_makes_the_picks_personal(client, drain_queues):
    _store()

    assert client.get("/api/products/C").status_code == 200
    drain_queues()
    body = client.get("/api/recommendations?limit=2").get_json()

    assert body["source"] == "personal"
    assert body["items"][0]["sku"] in {"A", "B"} and "C" not in [i["sku"] for i in body["items"]]
    with Session() as session:
        [view] = session.scalars(select(ProductView)).all()
    assert view.sku == "C" and client.get_cookie(visitor.COOKIE) is not None


def test_a_cart_brings_its_own_items(client):
    _store()
    with Session.begin() as session:
        cart = factories.cart(session, items={"B": 1})

    body = client.get(f"/api/recommendations?cart={cart.id}&limit=3").get_json()

    assert body["source"] == "personal"
    assert "B" not in [item["sku"] for item in body["items"]]
    assert body["items"][0]["sku"] == "A"
    assert client.get("/api/recommendations?cart=nope").status_code == 404


def _ada_bought_g():
    """G and H bought together twice; ada@example.com bought G (shipped)."""
    with Session.begin() as session:
        for sku in "GH":
            factories.product(session, sku)
        for _ in range(2):
            factories.order(session, lines={"G": 1, "H": 1}, status="paid")
        order = factories.order(session, lines={"G": 1}, status="shipped", email="ada@example.com")
    rebuild(BuildSettings(min_support=2))
    return order.id


def test_an_email_typed_into_a_cart_never_reveals_its_purchases(client):
    _ada_bought_g()
    with Session.begin() as session:
        cart = factories.cart(session, email="ada@example.com")

    body = client.get(f"/api/recommendations?cart={cart.id}").get_json()

    assert body["source"] == "bestsellers"
    assert client.get_cookie(visitor.COOKIE) is None


def test_reading_a_paid_order_makes_the_buyers_picks_personal(client):
    order_id = _ada_bought_g()

    assert client.get(f"/api/orders/{order_id}").status_code == 200
    body = client.get("/api/recommendations").get_json()

    assert body["source"] == "personal"
    assert body["items"][0]["sku"] == "H"  # bought with G


def test_a_forged_visitor_cookie_counts_as_a_new_visitor(client, drain_queues):
    _store()
    client.get("/api/products/C")
    drain_queues()
    with Session() as session:
        [view] = session.scalars(select(ProductView)).all()
    client.set_cookie(visitor.COOKIE, f"{view.visitor_id}.forged")

    assert client.get("/api/recommendations").get_json()["source"] == "bestsellers"


def test_a_product_read_answers_when_the_broker_is_down(client, monkeypatch):
    with Session.begin() as session:
        factories.product(session, "A")

    def unreachable(*args, **kwargs):
        import redis

        raise redis.ConnectionError("down")

    monkeypatch.setattr(visitor.record_product_view, "send", unreachable)

    assert client.get("/api/products/A").status_code == 200
