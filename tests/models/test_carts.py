"""Cart domain functions: stock checks under a timeout, versions, totals."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from models import carts, catalog, db, inventory
from models.base import utcnow
from models.db import Session
from tests.support import factories

POLICY = carts.StockPolicy(timeout_ms=1000)


def test_stock_reads_follow_the_reservation_rule_of_inventory():
    later, earlier = utcnow() + dt.timedelta(minutes=5), utcnow() - dt.timedelta(seconds=1)
    with Session.begin() as session:
        factories.product(session, "A", stock={"east": 2, "west": 5})
        factories.product(session, "B", stock={"main": 1})
        factories.product(session, "C", stock={})
        held, expired, released = (factories.order(session) for _ in range(3))
        inventory.reserve(session, order_id=held.id, quantities={"A": 3, "B": 1}, expires_at=later)
        inventory.reserve(session, order_id=expired.id, quantities={"A": 2}, expires_at=earlier)
        inventory.reserve(session, order_id=released.id, quantities={"A": 1}, expires_at=later)
        inventory.release(session, order_id=released.id)
    skus = ["A", "B", "C", "missing"]
    with Session.begin() as session:
        expected = inventory.available_by_sku(session, skus)
        assert catalog.available_units(session.connection(), skus) == expected
    assert catalog.checked_available_units(skus, timeout_ms=1000) == expected
    assert expected == {"A": 4, "B": 0, "C": 0, "missing": 0}


def test_a_stock_read_that_times_out_is_unverifiable_not_an_error():
    with Session.begin() as session:
        factories.product(session, "A")
        cart_id = factories.cart(session, items={"A": 1}).id
    with db.engine().connect() as blocker:
        blocker.execute(text("LOCK TABLE stock_levels IN ACCESS EXCLUSIVE MODE"))
        assert catalog.checked_available_units(["A"], timeout_ms=100) is None
        view = carts.read_view(cart_id, policy=carts.StockPolicy(timeout_ms=100))
        blocker.rollback()
    assert [(line.sku, line.in_stock, line.stock_error) for line in view.lines] == [
        ("A", False, "Unable to verify stock")
    ]


def test_read_view_is_one_row_per_line_and_handles_empty_carts():
    with Session.begin() as session:
        factories.product(session, "A")
        empty = factories.cart(session).id
        full = factories.cart(session, items={"A": 2}).id
    assert carts.read_view(empty, policy=POLICY).lines == []
    view = carts.read_view(full, policy=POLICY)
    assert [(line.sku, line.quantity, line.in_stock) for line in view.lines] == [("A", 2, True)]
    with pytest.raises(carts.NotFound):
        carts.read_view("missing", policy=POLICY)


def test_lock_cart_checks_version_and_status():
    with Session.begin() as session:
        cart_id = factories.cart(session).id
    with Session.begin() as session, pytest.raises(carts.VersionConflict) as conflict:
        carts.lock_cart(session, cart_id, expected_version=7)
    assert conflict.value.extra == {"current_version": 1}
    with Session.begin() as session:
        carts.lock_cart(session, cart_id).status = "completed"
    with Session.begin() as session, pytest.raises(carts.CartNotActive):
        carts.lock_cart(session, cart_id)
    with Session.begin() as session, pytest.raises(carts.NotFound):
        carts.lock_cart(session, "missing")


def test_view_totals_with_a_discount_that_rounds_down():
    with Session.begin() as session:
        factories.product(session, "A", price_cents=333)
        cart = factories.cart(session, items={"A": 1})
        factories.discount_code(session, "X", percent=10)
        cart.discount_code = "X"
        view = carts.view(session, cart, policy=POLICY, available={})
    assert (view.subtotal_cents, view.discount_cents, view.total_cents) == (333, 33, 300)


def test_add_item_keeps_the_first_price_and_bumps_item_version():
    with Session.begin() as session:
        factories.product(session, "A", price_cents=500)
        cart_id = factories.cart(session, items={"A": 1}).id
        factories.product(session, "A", price_cents=700)
    with Session.begin() as session:
        view = carts.add_item(session, cart_id=cart_id, sku="A", quantity=2, policy=POLICY)
        item = session.get(carts.Cart, cart_id).items[0]
        assert (item.quantity, item.unit_price_cents, item.version) == (3, 500, 2)
    assert view.lines[0].current_price_cents == 700 and view.version == 2


def test_a_stock_read_survives_the_server_dropping_pooled_connections():
    with Session.begin() as session:
        factories.product(session, "A", stock={"main": 3})
    assert catalog.checked_available_units(["A"], timeout_ms=1000) == {"A": 3}
    with db.engine().connect() as admin:
        admin.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " AND backend_type = 'client backend' AND state = 'idle'"
            )
        )
    assert catalog.checked_available_units(["A"], timeout_ms=1000) == {"A": 3}
