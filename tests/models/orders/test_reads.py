"""The storefront's read of one order: its columns and items in one statement."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import event

from models import db
from models.db import Session
from models.orders.reads import OrderLine, order_view
from models.orders.tables import Order
from tests.support import factories


def test_an_order_reads_with_its_items_in_sku_order_in_one_statement():
    paid = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)
    with Session.begin() as session:
        for sku in ("B", "A", "a-1"):
            factories.product(session, sku)
        order = factories.order(session, lines={"B": 1, "a-1": 3, "A": 2}, status="paid")
        order.paid_at = paid
        order.discount_cents = 150
    statements = []

    def count(*args):
        statements.append(args[2])

    event.listen(db.engine(), "before_cursor_execute", count)
    try:
        view = order_view(order.id)
    finally:
        event.remove(db.engine(), "before_cursor_execute", count)

    assert len(statements) == 1
    with Session() as session:
        stored = session.get(Order, order.id)
        expected_skus = [item.sku for item in stored.items]
        assert view.items == [
            OrderLine(item.sku, item.name, item.quantity, item.unit_price_cents)
            for item in stored.items
        ]
        assert [line.sku for line in view.items] == expected_skus
        assert (view.id, view.order_number, view.status, view.email) == (
            stored.id,
            stored.order_number,
            "paid",
            "buyer@example.com",
        )
        assert (view.subtotal_cents, view.discount_cents, view.total_cents, view.currency) == (
            stored.subtotal_cents,
            150,
            stored.total_cents,
            "usd",
        )
        assert (view.created_at, view.paid_at) == (stored.created_at, paid)


def test_an_order_without_items_reads_with_none():
    with Session.begin() as session:
        order = factories.order(session)

    view = order_view(order.id)

    assert view.items == [] and view.paid_at is None


def test_an_unknown_order_reads_as_none():
    assert order_view(uuid.uuid4()) is None
