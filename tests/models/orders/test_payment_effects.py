"""Payment effects are order-independent, never move an order backwards, and apply once."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from models import errors
from models.carts.tables import Cart
from models.db import Session
from models.orders import payment_effects, refunds
from models.orders.tables import Order
from models.orders.timeline import OrderEvent
from models.stock.tables import StockLevel
from tests.support import stripe_events


def new_order(**options) -> Order:
    with Session.begin() as session:
        return stripe_events.checkout(session, **options)


def apply(order_id, step) -> None:
    with Session.begin() as session:
        step(session, payment_effects.find_order(session, order_id=str(order_id)))


def succeeded(created):
    return lambda s, o: payment_effects.record_payment_succeeded(
        s, order=o, event_id=f"evt_s{created}", created=created
    )


def failed(created):
    return lambda s, o: payment_effects.record_payment_failed(
        s, order=o, event_id=f"evt_f{created}", created=created
    )


def canceled(created):
    return lambda s, o: payment_effects.record_payment_canceled(
        s, order=o, event_id=f"evt_c{created}", created=created, reason="abandoned"
    )


def charge_refunded(created, amount):
    return lambda s, o: refunds.record_charge_refunded(
        s, order=o, event_id=f"evt_r{created}", created=created, amount_refunded=amount
    )


def refund(created, refund_id, amount, status="succeeded"):
    return lambda s, o: refunds.record_refund(
        s,
        order=o,
        event_id=f"evt_{refund_id}_{created}",
        created=created,
        refund_id=refund_id,
        amount=amount,
        status=status,
    )


def snapshot(order_id, sku: str = "SKU-A") -> tuple:
    with Session() as session:
        order = session.get(Order, order_id)
        stock = session.get(StockLevel, (sku, "main")).on_hand
        cart = session.get(Cart, order.cart_id)
        return order.status, order.refunded_cents, stock, cart.status


HISTORIES = {
    "paid": [failed(10), succeeded(20)],
    "refunded after payment": [succeeded(10), charge_refunded(20, 2000)],
    "partial refunds": [succeeded(10), refund(20, "re_1", 500), refund(30, "re_2", 700)],
    "refund updated to failed": [
        succeeded(10),
        refund(20, "re_1", 500, "pending"),
        refund(30, "re_1", 500, "failed"),
    ],
    "canceled after failures": [failed(10), failed(20), canceled(30)],
}


@pytest.mark.parametrize("name", HISTORIES)
def test_every_arrival_order_of_the_same_events_ends_in_the_same_state(name):
    outcomes = set()
    for number, permutation in enumerate(itertools.permutations(HISTORIES[name])):
        order = new_order(lines={f"SKU-{number}": 2})
        for step in permutation:
            apply(order.id, step)
        # Status and money only: stock depends on whether the capture was known before
        # a full refund (then nothing was sold), which is the point of arrival order.
        outcomes.add(snapshot(order.id, f"SKU-{number}")[:2])
    assert len(outcomes) == 1, outcomes


def test_in_order_histories_reach_the_expected_states():
    expected = {
        "paid": ("paid", 0, 8, "completed"),
        "refunded after payment": ("refunded", 2000, 8, "completed"),
        "partial refunds": ("partially_refunded", 1200, 8, "completed"),
        "refund updated to failed": ("paid", 0, 8, "completed"),
        "canceled after failures": ("canceled", 0, 10, "active"),
    }
    for number, (name, history) in enumerate(HISTORIES.items()):
        order = new_order(lines={f"SKU-{number}": 2})
        for step in history:
            apply(order.id, step)
        assert snapshot(order.id, f"SKU-{number}") == expected[name], name


def test_capture_effects_run_once_even_when_several_events_reveal_it():
    order = new_order(lines={"SKU-A": 2})
    apply(order.id, refund(20, "re_1", 300))
    apply(order.id, succeeded(10))
    apply(order.id, charge_refunded(30, 300))

    with Session() as session:
        kinds = session.scalars(
            select(OrderEvent.kind).where(OrderEvent.order_id == order.id)
        ).all()
    assert kinds.count("reservations_confirmed") == 1
    assert snapshot(order.id) == ("partially_refunded", 300, 8, "completed")


def test_cancel_order_releases_and_reactivates_but_never_cancels_a_paid_order():
    unpaid, paid = new_order(lines={"SKU-A": 1}), new_order(lines={"SKU-B": 1})
    apply(paid.id, succeeded(10))

    with Session.begin() as session:
        assert payment_effects.cancel_order(session, order_id=unpaid.id, reason="expired") is True
        assert payment_effects.cancel_order(session, order_id=unpaid.id, reason="expired") is False
        assert payment_effects.cancel_order(session, order_id=paid.id, reason="expired") is False

    with Session() as session:
        assert session.get(Order, unpaid.id).status == "canceled"
        assert session.get(Cart, unpaid.cart_id).status == "active"
        assert {r.status for r in session.get(Order, unpaid.id).reservations} == {"released"}
        assert session.get(Order, paid.id).status == "paid"


def test_payment_after_a_local_cancel_keeps_the_money_and_sells_free_stock():
    order = new_order(lines={"SKU-A": 2})
    with Session.begin() as session:
        payment_effects.cancel_order(session, order_id=order.id, reason="expired")

    with Session.begin() as session:
        found = payment_effects.find_order(session, order_id=str(order.id))
        result = payment_effects.record_payment_succeeded(
            session, order=found, event_id="e", created=9
        )
        assert [title for title, _ in result.alerts] == ["Payment captured for a canceled order"]
    assert snapshot(order.id) == ("paid", 0, 8, "completed")


def test_unknown_order_raises_for_a_retry():
    with Session() as session, pytest.raises(errors.OrderNotFound):
        payment_effects.find_order(session, order_id="not-a-uuid", payment_intent_id="pi_nobody")
