"""Cart domain functions: stock checks under a timeout, versions, totals."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from models import carts, db
from models.db import Session
from tests.support import factories

POLICY = carts.StockPolicy(timeout_ms=1000)


def test_checked_availability_is_one_bounded_query():
    with Session.begin() as session:
        factories.product(session, "A", stock={"main": 4})
        assert carts.checked_availability(session, ["A", "Z"], timeout_ms=100) == {"A": 4, "Z": 0}
        assert carts.checked_availability(session, [], timeout_ms=100) == {}
        # The timeout is scoped to the stock query, not the rest of the transaction.
        assert session.execute(text("SHOW statement_timeout")).scalar() == "0"


def test_a_timed_out_stock_query_leaves_the_transaction_usable():
    with Session.begin() as session:
        factories.product(session, "A")
    with db.engine().connect() as blocker:
        blocker.execute(text("LOCK TABLE stock_levels IN ACCESS EXCLUSIVE MODE"))
        with Session.begin() as session:
            assert carts.checked_availability(session, ["A"], timeout_ms=100) is None
            assert session.execute(text("SELECT 1")).scalar() == 1
        blocker.rollback()


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


def test_view_totals_with_discount_round_in_the_customers_favour():
    with Session.begin() as session:
        factories.product(session, "A", price_cents=333)
        cart = factories.cart(session, items={"A": 1})
        factories.discount_code(session, "X", percent=10)
        cart.discount_code = "X"
        view = carts.view(session, cart, policy=POLICY)
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
    assert view.lines[0].current_price_cents == 700 and view.cart.version == 2
