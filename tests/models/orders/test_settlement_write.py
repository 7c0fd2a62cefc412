"""A settlement writes the order's payment state and its timeline lines in one statement."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select, update

from models import db
from models.db import Session
from models.orders import payment_effects, settlement_write
from models.orders.tables import Order
from models.orders.timeline import OrderEvent, add_event, collecting
from tests.support import stripe_events


def new_order(**options) -> Order:
    with Session.begin() as session:
        return stripe_events.checkout(session, **options)


def timeline(order_id) -> list[str]:
    with Session() as session:
        return list(
            session.scalars(
                select(OrderEvent.kind)
                .where(OrderEvent.order_id == order_id)
                .order_by(OrderEvent.id)
            )
        )


def test_a_paid_event_writes_the_order_and_its_lines_together_and_nothing_at_commit():
    order = new_order(lines={"SKU-A": 2})
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine(), "before_cursor_execute", seen)
    try:
        with Session.begin() as session:
            paid = payment_effects.find_order(session, order_id=str(order.id))
            payment_effects.record_payment_succeeded(
                session, order=paid, event_id="evt_1", created=1_700_000_000
            )
            written = len(statements)
    finally:
        event.remove(db.engine(), "before_cursor_execute", seen)

    assert written == len(statements)  # the commit flushed nothing more
    assert sum("UPDATE orders" in s for s in statements) == 1
    assert sum("INSERT INTO order_events" in s for s in statements) == 1
    with Session() as session:
        stored = session.get(Order, order.id)
        assert (stored.status, stored.paid_at is not None) == ("paid", True)
        assert stored.meta["payment"]["captured"] is True
    assert timeline(order.id) == ["payment_succeeded", "status_changed", "reservations_confirmed"]


def test_a_row_whose_status_moved_is_not_overwritten():
    order = new_order()
    with Session.begin() as session:
        paid = payment_effects.find_order(session, order_id=str(order.id))
        # Behind the session's back: the row no longer holds the status it was read with.
        session.connection().execute(
            update(Order.__table__).where(Order.id == order.id).values(status="canceled")
        )
        paid.status = "paid"
        with pytest.raises(settlement_write.StaleOrder):
            settlement_write.write(session, order=paid, lines=[{"kind": "x", "data": {}}])
        session.rollback()


def test_collecting_keeps_the_lines_of_its_order_in_order_and_adds_others():
    first, second = new_order(lines={"SKU-A": 1}), new_order(lines={"SKU-B": 1})
    with Session.begin() as session:
        one = session.get(Order, first.id)
        other = session.get(Order, second.id)
        with collecting(session, one) as lines:
            add_event(session, one, "a", n=1)
            add_event(session, other, "elsewhere")
            add_event(session, one, "b", n=2)
        add_event(session, one, "after")
        assert lines == [{"kind": "a", "data": {"n": 1}}, {"kind": "b", "data": {"n": 2}}]
    assert timeline(first.id) == ["after"]
    assert timeline(second.id) == ["elsewhere"]


def test_only_the_lines_are_written_when_the_order_was_flushed_already():
    order = new_order()
    with Session.begin() as session:
        paid = payment_effects.find_order(session, order_id=str(order.id))
        paid.status = "paid"
        session.flush()
        settlement_write.write(session, order=paid, lines=[{"kind": "late", "data": {"k": 1}}])
    assert timeline(order.id)[-1] == "late"
    with Session() as session:
        assert session.get(Order, order.id).status == "paid"
