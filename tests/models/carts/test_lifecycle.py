"""A paid order's cart is closed once, and only while it still belongs to that order."""

from __future__ import annotations

from sqlalchemy import func, select

from models.carts import lifecycle
from models.carts.tables import Cart, CartEvent
from models.db import Session
from models.orders.tables import Order
from tests.support import stripe_events


def new_order(**options) -> Order:
    with Session.begin() as session:
        return stripe_events.checkout(session, **options)


def test_complete_cart_is_idempotent_and_respects_the_cart_owner():
    order = new_order()
    with Session.begin() as session:
        assert lifecycle.complete_cart(session, cart_id=order.cart_id, order_id=order.id)
        assert not lifecycle.complete_cart(session, cart_id=order.cart_id, cleaned_by_job=True)
    other = new_order(lines={"SKU-B": 1})
    with Session.begin() as session:
        assert not lifecycle.complete_cart(session, cart_id=other.cart_id, order_id=order.id)
    with Session() as session:
        cart = session.get(Cart, order.cart_id)
        assert (cart.status, cart.is_active, cart.items, cart.meta["completed_by"]) == (
            "completed",
            False,
            [],
            "payment",
        )
        assert session.get(Cart, other.cart_id).status == "checkout"


def test_a_cart_held_by_another_transaction_is_skipped_then_closed_once_free():
    order = new_order(lines={"SKU-A": 1})
    with Session.begin() as holder:
        holder.get(Cart, order.cart_id, with_for_update=True)
        with Session.begin() as payment:
            assert not lifecycle.complete_cart(
                payment, cart_id=order.cart_id, order_id=order.id, skip_locked=True
            )
    with Session.begin() as payment:
        assert lifecycle.complete_cart(
            payment, cart_id=order.cart_id, order_id=order.id, skip_locked=True
        )
        versions = dict(payment.info[lifecycle.STATEMENT_VERSIONS_KEY])
    with Session() as session:
        cart = session.get(Cart, order.cart_id)
        assert (cart.status, cart.items, versions) == ("completed", [], {cart.id: cart.version})
        completions = session.scalar(
            select(func.count())
            .select_from(CartEvent)
            .where(CartEvent.cart_id == cart.id, CartEvent.kind == "completed")
        )
        assert completions == 1
