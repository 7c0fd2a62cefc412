"""Stock that could not be confirmed at payment: errors recorded, retried on a backoff."""

from __future__ import annotations

import datetime as dt

from models.base import utcnow
from models.db import Session
from models.orders import stock_confirmation as confirmations
from models.orders.tables import Order
from models.stock import reservations
from models.stock.tables import StockLevel
from tests.support import factories

# --- reservation confirmation retries ------------------------------------------------------


def paid_order_with_errors(session, *, quantity=2, on_hand=1, created_at=None) -> Order:
    """A paid order whose reservation could not be confirmed: fewer units than reserved."""
    order = factories.order(
        session, status="paid", lines={"SKU-1": quantity}, created_at=created_at
    )
    reservations.reserve(
        session, order_id=order.id, quantities={"SKU-1": quantity}, expires_at=utcnow()
    )
    session.get(StockLevel, ("SKU-1", "main")).on_hand = on_hand
    errors = reservations.confirm(session, order_id=order.id)
    assert errors
    # As the payment left it: errors kept, first retry five minutes on.
    order.confirmation_errors = errors
    order.next_confirmation_at = utcnow() + confirmations.RETRY_BACKOFF[0]
    session.flush()
    return order


def stock(sku="SKU-1") -> int:
    with Session() as session:
        return session.get(StockLevel, (sku, "main")).on_hand


def test_retry_is_due_five_minutes_after_the_error(skus):
    with Session.begin() as session:
        order_id = paid_order_with_errors(session).id
    now = utcnow()

    with Session() as session:
        assert confirmations.orders_due_for_confirmation_retry(session, now=now) == []
        later = now + dt.timedelta(minutes=5, seconds=1)
        assert confirmations.orders_due_for_confirmation_retry(session, now=later) == [order_id]


def test_failed_retry_backs_off_then_success_removes_the_error(skus):
    with Session.begin() as session:
        order_id = paid_order_with_errors(session, quantity=2, on_hand=1).id
    now = utcnow() + dt.timedelta(minutes=6)

    with Session.begin() as session:
        assert confirmations.retry_confirmation(session, order_id=order_id, now=now) == "retrying"
    with Session() as session:
        order = session.get(Order, order_id)
        assert order.confirmation_attempts == 1
        assert order.next_confirmation_at == now + dt.timedelta(minutes=15)
        assert confirmations.orders_due_for_confirmation_retry(session, now=now) == []
        due_at = now + dt.timedelta(minutes=15)
        assert confirmations.orders_due_for_confirmation_retry(session, now=due_at) == [order_id]

    with Session.begin() as session:
        session.get(StockLevel, ("SKU-1", "main")).on_hand = 5  # restocked
    with Session.begin() as session:
        outcome = confirmations.retry_confirmation(
            session, order_id=order_id, now=now + dt.timedelta(minutes=15)
        )

    assert outcome == "confirmed"
    assert stock() == 3
    with Session() as session:
        order = session.get(Order, order_id)
        assert order.confirmation_errors is None
        assert (order.confirmation_attempts, order.next_confirmation_at) == (0, None)
        assert [r.status for r in order.reservations] == ["confirmed"]
        kinds = [event.kind for event in order.events]
        assert kinds[-3:] == [
            "reservation_confirmation_errors_cleared",
            "reservations_confirmed",
            "reservation_confirmation_retry",
        ]
        later = now + dt.timedelta(days=2)
        assert confirmations.orders_due_for_confirmation_retry(session, now=later) == []


def test_five_failed_attempts_mark_the_order_for_manual_reconciliation(skus):
    with Session.begin() as session:
        order_id = paid_order_with_errors(session).id
    now = utcnow()
    gaps = [dt.timedelta(minutes=5), *confirmations.RETRY_BACKOFF[1:]]
    outcomes = []
    for gap in gaps:
        now += gap + dt.timedelta(seconds=1)
        with Session() as session:
            assert confirmations.orders_due_for_confirmation_retry(session, now=now) == [order_id]
        with Session.begin() as session:
            outcomes.append(confirmations.retry_confirmation(session, order_id=order_id, now=now))

    assert outcomes == ["retrying"] * 4 + ["manual"]
    with Session() as session:
        order = session.get(Order, order_id)
        assert order.needs_manual_reconciliation is True
        assert order.confirmation_attempts == 5
        assert order.confirmation_errors
        far = now + dt.timedelta(days=3)
        assert confirmations.orders_due_for_confirmation_retry(session, now=far) == []
        kinds = [event.kind for event in order.events]
        assert kinds.count("reservation_confirmation_failed") == 5
        assert kinds.count("reservation_confirmation_retry") == 5
        assert "manual_reconciliation_required" in kinds
    assert stock() == 1  # nothing confirmed, nothing oversold


def test_orders_older_than_a_day_are_not_picked_up(skus):
    with Session.begin() as session:
        paid_order_with_errors(session, created_at=utcnow() - dt.timedelta(hours=25))

    with Session() as session:
        later = utcnow() + dt.timedelta(hours=1)
        assert confirmations.orders_due_for_confirmation_retry(session, now=later) == []


def test_orders_without_errors_or_not_paid_are_not_retried(skus):
    with Session.begin() as session:
        factories.order(session, status="paid", lines={"SKU-1": 1})
        canceled = paid_order_with_errors(session)
        canceled.status = "canceled"
        empty = factories.order(session, status="paid", lines={"SKU-1": 1})
        empty.confirmation_errors = []

    with Session() as session:
        later = utcnow() + dt.timedelta(hours=1)
        assert confirmations.orders_due_for_confirmation_retry(session, now=later) == []


def test_confirmation_errors_are_recorded_then_cleared(skus):
    with Session.begin() as session:
        order = factories.order(session, status="paid", lines={"SKU-1": 1})
    errors = [{"sku": "SKU-A", "warehouse": "main", "quantity": 2, "available": 0}]
    with Session.begin() as session:
        row = session.get(Order, order.id)
        confirmations.record_confirmation_errors(session, order=row, errors=errors)
    with Session.begin() as session:
        row = session.get(Order, order.id)
        assert row.confirmation_errors == errors
        confirmations.record_confirmation_errors(session, order=row, errors=[])
    with Session() as session:
        assert session.get(Order, order.id).confirmation_errors is None
