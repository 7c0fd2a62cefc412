"""Checkout domain flow: start, attach the PaymentIntent, abort."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select, text

from models import db, errors
from models.base import utcnow
from models.carts.lifecycle import STATEMENT_VERSIONS_KEY
from models.carts.tables import Cart, CartEvent, CartItem, DiscountCode
from models.db import Session
from models.orders import checkout, payment_effects
from models.orders.tables import Order, OrderItem, Shipment
from models.orders.timeline import OrderEvent
from models.recovery.tables import RecoveryStep
from models.stock import availability
from models.stock.tables import Reservation
from tests.support import factories

ADDRESS = {"name": "A", "line1": "1", "city": "C", "postal_code": "1", "country": "US"}


def start(session, cart_id, **options):
    return checkout.start(
        session,
        cart_id=cart_id,
        email="ada@example.com",
        shipping_address=ADDRESS,
        acknowledge_price_changes=options.get("ack", False),
        reservation_minutes=15,
    )


def test_start_then_attach_then_repeat():
    with Session.begin() as session:
        factories.product(session, "A", price_cents=1000)
        cart_id = factories.cart(session, items={"A": 2}).id
    with Session.begin() as session:
        first = start(session, cart_id)
        assert first.created and first.order.total_cents == 2000
        order_id = first.order.id
    with Session.begin() as session:
        attached = checkout.attach_payment_intent(
            session, order_id=order_id, payment_intent_id="pi_1", client_secret="s"
        )
        assert (attached.payment_intent_id, attached.client_secret) == ("pi_1", "s")
    with Session.begin() as session:
        # A repeat keeps what was stored and adds no second timeline line.
        repeat = checkout.attach_payment_intent(
            session, order_id=order_id, payment_intent_id="pi_other", client_secret="t"
        )
        assert (repeat.payment_intent_id, repeat.client_secret) == ("pi_1", "s")
    with Session.begin() as session:
        again = start(session, cart_id)
        assert not again.created and again.order.id == order_id
        assert again.order.payment_intent_id == "pi_1"
        kinds = session.scalars(select(OrderEvent.kind).where(OrderEvent.order_id == order_id))
        assert list(kinds) == ["created", "allocated", "payment_intent_created"]


def test_abort_releases_cancels_and_frees_the_code():
    with Session.begin() as session:
        factories.product(session, "A")
        cart = factories.cart(session, items={"A": 1})
        factories.discount_code(session, "ONCE")
        cart.discount_code, cart_id = "ONCE", cart.id
    with Session.begin() as session:
        order_id = start(session, cart_id).order.id
        assert session.get(DiscountCode, "ONCE").used_at is not None
    with Session.begin() as session:
        cart = checkout.abort(session, order_id=order_id, reason="stripe down")
        assert (cart.status, cart.order_id) == ("active", None)
    with Session.begin() as session:
        assert session.get(Order, order_id).status == "canceled"
        assert session.get(DiscountCode, "ONCE").used_at is None
        assert availability.available_units(session, ["A"]) == {"A": 10}
        assert session.get(Cart, cart_id).discount_code == "ONCE"
        [line] = session.scalars(
            select(OrderEvent).where(
                OrderEvent.order_id == order_id, OrderEvent.kind == "checkout_failed"
            )
        )
        assert (line.data["from"], line.data["to"]) == ("pending_payment", "canceled")
    with Session.begin() as session:
        assert start(session, cart_id).created  # the freed code is usable again


def test_abort_leaves_an_order_with_a_payment_intent_alone():
    with Session.begin() as session:
        factories.product(session, "A")
        cart_id = factories.cart(session, items={"A": 1}).id
    with Session.begin() as session:
        order_id = start(session, cart_id).order.id
        checkout.attach_payment_intent(
            session, order_id=order_id, payment_intent_id="pi_2", client_secret="s"
        )
    with Session.begin() as session:
        assert checkout.abort(session, order_id=order_id, reason="late failure") is None
        assert session.get(Order, order_id).status == "pending_payment"


def test_a_rise_without_acknowledgment_raises_before_anything_is_written():
    with Session.begin() as session:
        factories.product(session, "A", price_cents=100)
        cart_id = factories.cart(session, items={"A": 1}).id
        factories.product(session, "A", price_cents=150)
    with pytest.raises(errors.PriceChangeNeedsAcknowledgment) as raised, Session.begin() as s:
        start(s, cart_id)
    assert raised.value.extra["changes"] == [
        {"sku": "A", "old_price_cents": 100, "new_price_cents": 150}
    ]
    with Session.begin() as session:
        assert session.scalars(select(Order)).all() == []


def _lock_waiters() -> int:
    with db.engine().connect() as connection:
        return connection.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        ).scalar()


def test_the_locked_reservation_decides_when_the_precheck_saw_stale_stock():
    with Session.begin() as session:
        factories.product(session, "A", stock={"main": 1})
        first, second = (factories.cart(session, items={"A": 1}).id for _ in range(2))
    outcome: dict[str, object] = {}

    def checkout_second():
        try:
            # Passes: the first checkout's reservation is not committed yet.
            checkout.fail_fast_if_short(second, acknowledge_price_changes=False, timeout_ms=5000)
            with Session.begin() as session:
                start(session, second)
            outcome["second"] = "created"
        except errors.ItemsOutOfStock as error:
            outcome["second"] = error.extra["items"]

    with Session.begin() as session:
        start(session, first)  # holds the stock row lock until this block commits
        thread = threading.Thread(target=checkout_second)
        thread.start()
        deadline = time.monotonic() + 30
        while _lock_waiters() == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        # The second checkout passed the fail-fast check and now waits on the lock.
        assert _lock_waiters() == 1
    thread.join(timeout=30)

    assert outcome["second"] == [{"sku": "A", "requested": 1, "available": 0}]
    with Session.begin() as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 1
        assert session.get(Cart, second).status == "active"


def test_fail_fast_answers_from_committed_stock_and_defers_everything_else():
    with Session.begin() as session:
        factories.product(session, "A", price_cents=100, stock={"main": 1})
        short = factories.cart(session, items={"A": 2}).id
        fine = factories.cart(session, items={"A": 1}).id
        empty = factories.cart(session).id
    with pytest.raises(errors.ItemsOutOfStock) as raised:
        checkout.fail_fast_if_short(short, acknowledge_price_changes=False, timeout_ms=5000)
    assert raised.value.extra["items"] == [{"sku": "A", "requested": 2, "available": 1}]
    for cart_id in (fine, empty, "missing"):
        checkout.fail_fast_if_short(cart_id, acknowledge_price_changes=False, timeout_ms=5000)
    with Session.begin() as session:
        factories.product(session, "A", price_cents=150, stock={"main": 1})
    # A rise to acknowledge is answered first, by start().
    checkout.fail_fast_if_short(short, acknowledge_price_changes=False, timeout_ms=5000)
    with pytest.raises(errors.ItemsOutOfStock):
        checkout.fail_fast_if_short(short, acknowledge_price_changes=True, timeout_ms=5000)


def test_a_canceled_payment_frees_the_code_so_the_cart_checks_out_again():
    with Session.begin() as session:
        factories.product(session, "A")
        cart = factories.cart(session, items={"A": 1})
        factories.discount_code(session, "AGAIN")
        cart.discount_code, cart_id = "AGAIN", cart.id
    with Session.begin() as session:
        first = start(session, cart_id).order.id
        checkout.attach_payment_intent(
            session, order_id=first, payment_intent_id="pi_again", client_secret="s"
        )
    with Session.begin() as session:
        order = payment_effects.find_order(session, order_id=str(first))
        payment_effects.record_payment_canceled(
            session, order=order, event_id="evt_cancel", created=1, reason="abandoned"
        )

    with Session.begin() as session:
        assert session.get(DiscountCode, "AGAIN").used_at is None
        cart = session.get(Cart, cart_id)
        assert (cart.status, cart.discount_code) == ("active", "AGAIN")
    with Session.begin() as session:
        again = start(session, cart_id)
        assert again.created and again.order.id != first
        assert again.order.discount_code == "AGAIN"
        assert session.get(DiscountCode, "AGAIN").used_at is not None


def test_start_writes_the_order_its_lines_shipments_and_moves_the_cart():
    with Session.begin() as session:
        factories.product(session, "A", price_cents=1000)
        factories.product(session, "B", price_cents=500, stock={"east": 10})
        cart = factories.cart(session, items={"A": 2, "B": 3})
        cart_id, version = cart.id, cart.version
        session.add(
            RecoveryStep(
                cart_id=cart_id,
                step="email_1",
                status="pending",
                due_at=utcnow(),
                claimed_at=utcnow(),
            )
        )
        factories.product(session, "A", price_cents=900, stock={})  # a drop: applied silently

    with Session.begin() as session:
        result = start(session, cart_id)
        assert session.info[STATEMENT_VERSIONS_KEY] == {cart_id: version + 1}
    changes = [{"sku": "A", "old_price_cents": 1000, "new_price_cents": 900}]

    with Session.begin() as session:
        order = session.get_one(Order, result.order.id)
        assert result.order == checkout.placed_order(session, order.id)
        assert (order.status, order.total_cents, order.order_number) == (
            "pending_payment",
            3300,
            result.order.order_number,
        )
        assert (order.refunded_cents, order.confirmation_attempts, order.meta) == (
            0,
            0,
            {"price_changes": changes},
        )
        assert result.price_changes == changes
        items = session.scalars(select(OrderItem).where(OrderItem.order_id == order.id))
        assert sorted((i.sku, i.name, i.quantity, i.unit_price_cents) for i in items) == [
            ("A", "Product A", 2, 900),
            ("B", "Product B", 3, 500),
        ]
        kinds = session.scalars(
            select(OrderEvent.kind).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id)
        )
        assert list(kinds) == ["created", "allocated"]
        shipments = session.scalars(select(Shipment).where(Shipment.order_id == order.id))
        assert sorted((s.warehouse, s.status, s.items) for s in shipments) == [
            ("east", "pending", [{"sku": "B", "quantity": 3}]),
            ("main", "pending", [{"sku": "A", "quantity": 2}]),
        ]
        reserved = session.scalars(select(Reservation).where(Reservation.order_id == order.id))
        assert sorted((r.sku, r.warehouse, r.quantity) for r in reserved) == [
            ("A", "main", 2),
            ("B", "east", 3),
        ]
        cart = session.get_one(Cart, cart_id)
        assert (cart.status, cart.order_id, cart.version, cart.email) == (
            "checkout",
            order.id,
            version + 1,
            "ada@example.com",
        )
        item = session.scalars(select(CartItem).where(CartItem.sku == "A")).one()
        assert (item.unit_price_cents, item.version) == (900, 2)
        [event] = session.scalars(select(CartEvent).where(CartEvent.kind == "checkout_started"))
        assert (event.cart_id, event.source_id) == (cart_id, f"{cart_id}:{version + 1}")
        step = session.get_one(RecoveryStep, (cart_id, "email_1"))
        assert (step.status, step.reason) == ("canceled", "ordered")


def test_a_rolled_back_start_leaves_no_order_and_the_cart_as_it_was():
    with Session.begin() as session:
        factories.product(session, "A", stock={"main": 1})
        cart = factories.cart(session, items={"A": 2})
        cart_id, version = cart.id, cart.version
    with pytest.raises(errors.ItemsOutOfStock), Session.begin() as session:
        start(session, cart_id)
    with Session.begin() as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 0
        assert session.scalar(select(func.count()).select_from(CartEvent)) == 0
        cart = session.get_one(Cart, cart_id)
        assert (cart.status, cart.version, cart.order_id) == ("active", version, None)
