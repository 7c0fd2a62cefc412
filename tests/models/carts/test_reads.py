"""Cart reads: stock checks under a timeout, one row per line, totals."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from models import db, errors
from models.carts import reads
from models.db import Session
from models.stock import reader
from tests.support import factories

POLICY = reads.StockPolicy(timeout_ms=1000)


def test_a_stock_read_that_times_out_is_unverifiable_not_an_error():
    with Session.begin() as session:
        factories.product(session, "A")
        cart_id = factories.cart(session, items={"A": 1}).id
    with db.engine().connect() as blocker:
        blocker.execute(text("LOCK TABLE stock_levels IN ACCESS EXCLUSIVE MODE"))
        assert reader.checked_available_units(["A"], timeout_ms=100) is None
        view = reads.read_view(cart_id, policy=reads.StockPolicy(timeout_ms=100))
        blocker.rollback()
    assert [(line.sku, line.in_stock, line.stock_error) for line in view.lines] == [
        ("A", False, "Unable to verify stock")
    ]


def test_read_view_is_one_row_per_line_and_handles_empty_carts():
    with Session.begin() as session:
        factories.product(session, "A")
        empty = factories.cart(session).id
        full = factories.cart(session, items={"A": 2}).id
    assert reads.read_view(empty, policy=POLICY).lines == []
    view = reads.read_view(full, policy=POLICY)
    assert [(line.sku, line.quantity, line.in_stock) for line in view.lines] == [("A", 2, True)]
    with pytest.raises(errors.NotFound):
        reads.read_view("missing", policy=POLICY)


def test_view_totals_with_a_discount_that_rounds_down():
    with Session.begin() as session:
        factories.product(session, "A", price_cents=333)
        cart = factories.cart(session, items={"A": 1})
        factories.discount_code(session, "X", percent=10)
        cart.discount_code = "X"
        view = reads.view(session, cart, policy=POLICY, available={})
    assert (view.subtotal_cents, view.discount_cents, view.total_cents) == (333, 33, 300)
