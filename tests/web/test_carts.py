"""Cart API: versioned writes, quantity rules, stock checks, discount codes, events."""

from __future__ import annotations

import contextlib
import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import select, text

from models import db
from models.base import utcnow
from models.carts.tables import Cart, CartEvent, CartItem
from models.db import Session
from models.infra.outbox import OutboxMessage
from services.settings import get_settings
from tests.support import factories


@pytest.fixture
def products():
    with Session.begin() as session:
        factories.product(session, "A", price_cents=1000, stock={"main": 10})
        factories.product(session, "B", price_cents=250, stock={"main": 3})


def new_cart(client, **body) -> dict:
    response = client.post("/api/carts", json=body)
    assert response.status_code == 201
    return response.json


def add(client, cart_id, sku, quantity, **headers):
    return client.post(
        f"/api/carts/{cart_id}/items", json={"sku": sku, "quantity": quantity}, headers=headers
    )


@contextlib.contextmanager
def stock_query_blocked(monkeypatch, *, fallback: bool = False):
    """Stock rows locked by another session: the stock query hits its (short) timeout."""
    monkeypatch.setenv("STOCK_QUERY_TIMEOUT_MS", "200")
    monkeypatch.setenv("ENABLE_WAREHOUSE_FALLBACK", "true" if fallback else "false")
    get_settings.cache_clear()
    with db.engine().connect() as blocker:
        blocker.execute(text("LOCK TABLE stock_levels IN ACCESS EXCLUSIVE MODE"))
        try:
            yield
        finally:
            blocker.rollback()
            get_settings.cache_clear()


def test_create_cart_returns_an_unguessable_id_and_etag(client):
    cart = new_cart(client, email="ada@example.com")
    other = new_cart(client)

    assert len(cart["id"]) >= 32 and cart["id"] != other["id"]
    assert cart["status"] == "active" and cart["version"] == 1
    assert cart["currency"] == "usd" and cart["email"] == "ada@example.com"
    assert cart["items"] == [] and cart["total_cents"] == 0 and cart["discount"] is None
    response = client.get(f"/api/carts/{cart['id']}")
    assert response.status_code == 200
    assert response.headers["ETag"] == '"1"'
    with Session.begin() as session:
        row = session.get(Cart, cart["id"])
        assert row.expires_at > utcnow() + dt.timedelta(days=29)


@pytest.mark.parametrize(
    "body",
    [{"email": "not-an-email"}, {"currency": "dollars"}, {"unknown": 1}, ["list"]],
)
def test_create_cart_rejects_bad_bodies(client, body):
    response = client.post("/api/carts", json=body)
    assert response.status_code == 422
    assert response.json["error"] == "validation_error"


def test_add_items_adds_up_and_bumps_version(client, products):
    cart = new_cart(client)
    add(client, cart["id"], "A", 2)
    response = add(client, cart["id"], "A", 3)
    add(client, cart["id"], "B", 1)
    body = client.get(f"/api/carts/{cart['id']}").json

    assert response.status_code == 200 and response.json["version"] == 3
    assert body["version"] == 4
    assert [(i["sku"], i["quantity"]) for i in body["items"]] == [("A", 5), ("B", 1)]
    line = body["items"][0]
    assert line == {
        "sku": "A",
        "name": "Product A",
        "quantity": 5,
        "unit_price_cents": 1000,
        "current_price_cents": 1000,
        "in_stock": True,
        "stock_error": None,
    }
    assert body["subtotal_cents"] == 5250 and body["total_cents"] == 5250


def test_cart_writes_refresh_activity_and_record_events(client, products):
    cart = new_cart(client)
    with Session.begin() as session:
        session.get(Cart, cart["id"]).last_activity_at = utcnow() - dt.timedelta(days=3)
    add(client, cart["id"], "A", 2)

    with Session.begin() as session:
        row = session.get(Cart, cart["id"])
        assert row.last_activity_at > utcnow() - dt.timedelta(minutes=1)
        events = session.scalars(select(CartEvent).order_by(CartEvent.id)).all()
        queued = session.scalars(select(OutboxMessage)).all()
    assert [(e.cart_id, e.kind, e.sku, e.quantity) for e in events] == [
        (cart["id"], "created", None, None),
        (cart["id"], "item_added", "A", 2),
    ]
    assert events[1].source_id == f"{cart['id']}:2"
    assert queued == []  # recorded in the write's transaction, no job


def test_every_write_is_logged_in_its_own_transaction(client, products):
    cart = new_cart(client)
    add(client, cart["id"], "A", 2)
    client.patch(f"/api/carts/{cart['id']}/items/A", json={"quantity": 1})
    client.delete(f"/api/carts/{cart['id']}/items/A")

    with Session.begin() as session:
        events = session.scalars(select(CartEvent).order_by(CartEvent.id)).all()
    assert [(e.kind, e.sku, e.quantity, e.source_id) for e in events] == [
        ("created", None, None, f"{cart['id']}:1"),
        ("item_added", "A", 2, f"{cart['id']}:2"),
        ("item_updated", "A", 1, f"{cart['id']}:3"),
        ("item_removed", "A", 0, f"{cart['id']}:4"),
    ]


def test_quantity_rules(client, products):
    cart = new_cart(client)
    for quantity in (0, 100, -1, "3", 2.5, True, None):
        response = add(client, cart["id"], "A", quantity)
        assert response.status_code == 422, quantity
        assert response.json["error"] == "validation_error"

    with Session.begin() as session:
        factories.product(session, "C", stock={"main": 500})
    assert add(client, cart["id"], "C", 99).status_code == 200
    response = add(client, cart["id"], "C", 1)
    assert response.status_code == 422
    assert response.json["errors"][0]["field"] == "quantity"
    assert client.get(f"/api/carts/{cart['id']}").json["version"] == 2


def test_unknown_cart_or_sku_is_404(client, products):
    cart = new_cart(client)
    assert add(client, "no-such-cart", "A", 1).status_code == 404
    assert client.get("/api/carts/no-such-cart").json["error"] == "not_found"
    response = add(client, cart["id"], "NOPE", 1)
    assert response.status_code == 404 and response.json["error"] == "not_found"
    assert client.patch(f"/api/carts/{cart['id']}/items/A", json={"quantity": 1}).status_code == 404
    assert client.delete(f"/api/carts/{cart['id']}/items/A").status_code == 404


def test_bad_json_and_missing_fields(client, products):
    cart = new_cart(client)
    response = client.post(
        f"/api/carts/{cart['id']}/items", data="{", content_type="application/json"
    )
    assert response.status_code == 400 and response.json["error"] == "invalid_json"
    response = client.post(f"/api/carts/{cart['id']}/items", json={"sku": "A"})
    assert response.status_code == 422
    assert response.json["errors"][0]["field"] == "quantity"
    response = client.post(f"/api/carts/{cart['id']}/items", json={"sku": "", "quantity": 1})
    assert response.status_code == 422


def test_out_of_stock_reports_available(client, products):
    cart = new_cart(client)
    add(client, cart["id"], "B", 2)
    response = add(client, cart["id"], "B", 2)
    assert response.status_code == 409
    assert response.json["error"] == "out_of_stock" and response.json["available"] == 3


def test_stale_if_match_is_409_and_changes_nothing(client, products):
    cart = new_cart(client)
    first = add(client, cart["id"], "A", 1, **{"If-Match": '"1"'})
    assert first.status_code == 200 and first.headers["ETag"] == '"2"'

    stale = add(client, cart["id"], "A", 1, **{"If-Match": '"1"'})
    assert stale.status_code == 409
    assert stale.json["error"] == "version_conflict" and stale.json["current_version"] == 2
    malformed = add(client, cart["id"], "A", 1, **{"If-Match": "abc"})
    assert malformed.status_code == 409
    unquoted = add(client, cart["id"], "A", 1, **{"If-Match": "2"})
    assert unquoted.status_code == 200
    body = client.get(f"/api/carts/{cart['id']}").json
    assert body["version"] == 3 and body["items"][0]["quantity"] == 2


def test_patch_and_delete_items(client, products):
    cart = new_cart(client)
    add(client, cart["id"], "A", 2)
    add(client, cart["id"], "B", 1)

    response = client.patch(f"/api/carts/{cart['id']}/items/A", json={"quantity": 7})
    assert response.status_code == 200 and response.json["items"][0]["quantity"] == 7
    response = client.patch(f"/api/carts/{cart['id']}/items/A", json={"quantity": 11})
    assert response.status_code == 409 and response.json["error"] == "out_of_stock"
    response = client.patch(f"/api/carts/{cart['id']}/items/A", json={"quantity": 100})
    assert response.status_code == 422
    response = client.patch(f"/api/carts/{cart['id']}/items/A", json={"quantity": 0})
    assert [i["sku"] for i in response.json["items"]] == ["B"]
    response = client.delete(f"/api/carts/{cart['id']}/items/B")
    assert response.status_code == 200 and response.json["items"] == []
    assert client.delete(f"/api/carts/{cart['id']}/items/B").status_code == 404
    assert response.json["version"] == 6


def test_carts_in_checkout_or_completed_refuse_writes(client, products):
    cart = new_cart(client)
    add(client, cart["id"], "A", 1)
    for status in ("checkout", "completed"):
        with Session.begin() as session:
            session.get(Cart, cart["id"]).status = status
        for response in (
            add(client, cart["id"], "A", 1),
            client.patch(f"/api/carts/{cart['id']}/items/A", json={"quantity": 2}),
            client.delete(f"/api/carts/{cart['id']}/items/A"),
            client.post(f"/api/carts/{cart['id']}/discount", json={"code": "X"}),
        ):
            assert response.status_code == 409
            assert response.json["error"] == "cart_not_active"


def test_an_abandoned_cart_comes_back_to_life_on_a_write(client, products):
    cart = new_cart(client)
    with Session.begin() as session:
        session.get(Cart, cart["id"]).status = "abandoned"
    response = add(client, cart["id"], "A", 1)
    assert response.status_code == 200 and response.json["status"] == "active"


def test_unverifiable_stock_is_flagged_and_blocks_adds(client, products, monkeypatch):
    cart = new_cart(client)
    add(client, cart["id"], "A", 1)
    with stock_query_blocked(monkeypatch):
        body = client.get(f"/api/carts/{cart['id']}").json
        response = add(client, cart["id"], "B", 1)

    assert body["items"][0]["in_stock"] is False
    assert body["items"][0]["stock_error"] == "Unable to verify stock"
    assert response.status_code == 503 and response.json["error"] == "stock_unavailable"
    body = client.get(f"/api/carts/{cart['id']}").json
    assert [i["sku"] for i in body["items"]] == ["A"] and body["items"][0]["in_stock"] is True


def test_warehouse_fallback_treats_unverifiable_stock_as_available(client, products, monkeypatch):
    cart = new_cart(client)
    with stock_query_blocked(monkeypatch, fallback=True):
        response = add(client, cart["id"], "B", 1)
    assert response.status_code == 200
    assert response.json["items"][0]["in_stock"] is True
    assert response.json["items"][0]["stock_error"] == "Unable to verify stock"


def test_current_price_shows_price_changes(client, products):
    cart = new_cart(client)
    add(client, cart["id"], "A", 2)
    with Session.begin() as session:
        factories.product(session, "A", price_cents=1200)
    line = client.get(f"/api/carts/{cart['id']}").json["items"][0]
    assert (line["unit_price_cents"], line["current_price_cents"]) == (1000, 1200)


def test_discount_code_applies_percent_to_totals(client, products):
    cart = new_cart(client)
    add(client, cart["id"], "A", 3)
    with Session.begin() as session:
        factories.discount_code(session, "SAVE15", percent=15)
    response = client.post(f"/api/carts/{cart['id']}/discount", json={"code": "SAVE15"})

    assert response.status_code == 200
    assert response.json["discount"] == {"code": "SAVE15", "percent": 15}
    assert response.json["subtotal_cents"] == 3000
    assert response.json["discount_cents"] == 450 and response.json["total_cents"] == 2550
    response = client.delete(f"/api/carts/{cart['id']}/discount")
    assert response.json["discount"] is None and response.json["total_cents"] == 3000


def test_invalid_discount_codes(client, products):
    cart = new_cart(client)
    other = new_cart(client)
    with Session.begin() as session:
        factories.discount_code(session, "OLD", expires_at=utcnow() - dt.timedelta(seconds=1))
        factories.discount_code(session, "USED", used_at=utcnow())
        factories.discount_code(session, "THEIRS", cart_id=other["id"])
        factories.discount_code(session, "MINE", cart_id=cart["id"])
    for code in ("NOPE", "OLD", "USED", "THEIRS"):
        response = client.post(f"/api/carts/{cart['id']}/discount", json={"code": code})
        assert response.status_code == 422, code
        assert response.json["error"] == "invalid_code"
    for body in ({}, {"code": ""}, {"code": 5}):
        response = client.post(f"/api/carts/{cart['id']}/discount", json=body)
        assert response.json["error"] == "validation_error"
    assert client.get(f"/api/carts/{cart['id']}").json["version"] == 1
    response = client.post(f"/api/carts/{cart['id']}/discount", json={"code": "MINE"})
    assert response.status_code == 200 and response.json["discount"]["code"] == "MINE"


def test_concurrent_adds_without_if_match_never_lose_an_update(live_server, products):
    with Session.begin() as session:
        factories.product(session, "C", stock={"main": 100})
        cart_id = factories.cart(session).id

    def add_one(_):
        return requests.post(
            f"{live_server}/api/carts/{cart_id}/items", json={"sku": "C", "quantity": 1}, timeout=30
        ).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(add_one, range(50)))

    assert statuses == [200] * 50
    with Session.begin() as session:
        item = session.scalar(select(CartItem).where(CartItem.cart_id == cart_id))
        assert item.quantity == 50
        assert session.get(Cart, cart_id).version == 51
