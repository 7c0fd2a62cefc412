"""Orders whose stock hold ran out before payment: canceled, and their checkout given back."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from models.base import utcnow
from models.carts.tables import Cart, DiscountCode
from models.db import Session
from models.orders import expiry
from models.orders.tables import Order
from models.orders.timeline import OrderEvent
from models.stock import reservations
from models.stock.tables import Reservation
from tests.support import factories


def count(model, *where) -> int:
    with Session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


# --- expired reservations ------------------------------------------------------------------


def pending_checkout(session, *, expires_in: dt.timedelta, payment_intent_id=None):
    """An order awaiting payment with stock reserved until now + ``expires_in``, and its cart."""
    order = factories.order(
        session, lines={"SKU-1": 2, "SKU-2": 1}, payment_intent_id=payment_intent_id
    )
    cart = factories.cart_row(
        session, lines={"SKU-1": 2, "SKU-2": 1}, status="checkout", order_id=order.id
    )
    order.cart_id = cart.id
    reservations.reserve(
        session,
        order_id=order.id,
        quantities={"SKU-1": 2, "SKU-2": 1},
        expires_at=utcnow() + expires_in,
    )
    return order, cart


def release_and_cancel(now=None) -> tuple[int, list]:
    now = now or utcnow()
    with Session.begin() as session:
        released = reservations.release_expired(session, now=now)
        orders = expiry.expired_pending_orders(session, now=now)
        canceled = [o.id for o in orders if expiry.cancel_expired_order(session, order=o)]
        return released, canceled


def test_expired_reservations_cancel_the_order_and_reactivate_the_cart(skus):
    with Session.begin() as session:
        expired, expired_cart = pending_checkout(session, expires_in=-dt.timedelta(minutes=1))
        live, live_cart = pending_checkout(session, expires_in=dt.timedelta(minutes=10))

    released, canceled = release_and_cancel()

    assert released == 2
    assert canceled == [expired.id]
    with Session() as session:
        order = session.get(Order, expired.id)
        assert order.status == "canceled"
        assert {r.status for r in order.reservations} == {"released"}
        cart = session.get(Cart, expired_cart.id)
        assert (cart.status, cart.is_active, cart.order_id) == ("active", True, expired.id)
        assert len(cart.items) == 2
        assert session.get(Order, live.id).status == "pending_payment"
        assert {r.status for r in session.get(Order, live.id).reservations} == {"active"}
        assert session.get(Cart, live_cart.id).status == "checkout"
        kinds = [e.kind for e in session.scalars(select(OrderEvent))]
        assert kinds.count("order_canceled") == 1

    assert release_and_cancel() == (0, [])  # a second run changes nothing


def test_paid_orders_are_never_canceled(skus):
    with Session.begin() as session:
        order, cart = pending_checkout(session, expires_in=-dt.timedelta(minutes=1))
        order.status = "paid"

    release_and_cancel()

    with Session() as session:
        assert session.get(Order, order.id).status == "paid"
        assert session.get(Cart, cart.id).status == "checkout"


def test_release_is_batch_limited(skus):
    with Session.begin() as session:
        for _ in range(3):
            pending_checkout(session, expires_in=-dt.timedelta(minutes=1))

    with Session.begin() as session:
        released = reservations.release_expired(session, now=utcnow(), limit=4)

    assert released == 4
    assert count(Reservation, Reservation.status == "active") == 2


def test_an_expired_checkout_frees_its_discount_code(skus):
    with Session.begin() as session:
        order, cart = pending_checkout(session, expires_in=-dt.timedelta(minutes=1))
        code = factories.discount_code(session, "BACK10", cart_id=cart.id, used_at=utcnow())
        order.discount_code = code.code

    release_and_cancel()

    with Session() as session:
        assert session.get(DiscountCode, "BACK10").used_at is None
