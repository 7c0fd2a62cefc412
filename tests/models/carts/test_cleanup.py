"""The carts' scheduled upkeep: completing carts of paid orders, purging expired ones."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from models.base import utcnow
from models.carts import cleanup
from models.carts.tables import Cart, CartEvent, CartItem
from models.db import Session
from models.orders.tables import Order
from tests.support import factories


def checkout_cart(session, *, order_status: str | None, lines=None) -> Cart:
    """A cart in checkout whose order has ``order_status`` (None: the order is gone)."""
    order = (
        factories.order(session, status=order_status, lines=lines or {"SKU-1": 1})
        if order_status
        else None
    )
    cart = factories.cart_row(
        session,
        lines=lines or {"SKU-1": 1, "SKU-2": 2},
        status="checkout",
        order_id=order.id if order else None,
    )
    if order:
        order.cart_id = cart.id
    session.flush()
    return cart


def count(model, *where) -> int:
    with Session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


# --- cleanup of checked-out carts ----------------------------------------------------------


def test_cleanup_completes_paid_carts_and_leaves_the_rest(skus):
    with Session.begin() as session:
        paid = checkout_cart(session, order_status="paid").id
        shipped = checkout_cart(session, order_status="shipped").id
        refunded = checkout_cart(session, order_status="refunded").id
        awaiting = checkout_cart(session, order_status="pending_payment").id
        orphan = checkout_cart(session, order_status=None).id
        active = factories.cart_row(session, lines={"SKU-1": 1}).id

    with Session.begin() as session:
        result = cleanup.cleanup_checked_out_carts(session)

    assert sorted(result.cleaned) == sorted([paid, shipped, refunded])
    assert result.skipped_without_order == 1
    with Session() as session:
        for cart_id in (paid, shipped, refunded):
            cart = session.get(Cart, cart_id)
            assert (cart.status, cart.is_active) == ("completed", False)
            assert cart.meta["cleaned_by_job"] is True
            assert cart.items == []
        assert session.get(Cart, awaiting).status == "checkout"
        assert len(session.get(Cart, awaiting).items) == 2
        assert session.get(Cart, orphan).status == "checkout"
        assert session.get(Cart, active).status == "active"
        assert cleanup.carts_pending_cleanup(session) == 0


def test_cleanup_twice_changes_nothing_the_second_time(skus):
    with Session.begin() as session:
        cart_id = checkout_cart(session, order_status="paid").id
    with Session.begin() as session:
        cleanup.cleanup_checked_out_carts(session)
    with Session() as session:
        version = session.get(Cart, cart_id).version

    with Session.begin() as session:
        again = cleanup.cleanup_checked_out_carts(session)

    assert again.cleaned == []
    with Session() as session:
        assert session.get(Cart, cart_id).version == version


def test_cleanup_takes_at_most_the_batch_limit(skus):
    with Session.begin() as session:
        for _ in range(5):
            checkout_cart(session, order_status="paid")

    with Session.begin() as session:
        first = cleanup.cleanup_checked_out_carts(session, limit=2)
    with Session() as session:
        pending = cleanup.carts_pending_cleanup(session)

    assert len(first.cleaned) == 2
    assert pending == 3


def test_cleanup_skips_carts_another_transaction_holds(skus):
    with Session.begin() as session:
        locked = checkout_cart(session, order_status="paid").id
        free = checkout_cart(session, order_status="paid").id

    with Session.begin() as holder:
        holder.get(Cart, locked, with_for_update=True)
        with Session.begin() as session:
            result = cleanup.cleanup_checked_out_carts(session)

    assert result.cleaned == [free]


# --- purge of expired sessions -------------------------------------------------------------


def days_ago(days: float) -> dt.datetime:
    return utcnow() - dt.timedelta(days=days)


def cutoff() -> dt.datetime:
    return utcnow() - cleanup.SESSION_RETENTION


def purge(*, limit: int = 100, after=None) -> tuple[int, cleanup.PurgeChunk]:
    with Session() as session:
        chunk = cleanup.purge_candidates(session, cutoff=cutoff(), limit=limit, after=after)
    with Session.begin() as session:
        deleted = cleanup.purge_carts_at(session, addresses=chunk.addresses, cutoff=cutoff())
    return deleted, chunk


def test_purge_deletes_long_expired_carts_with_their_items_and_events(skus):
    with Session.begin() as session:
        old = factories.cart_row(
            session, lines={"SKU-1": 1, "SKU-2": 3}, expires_at=days_ago(8), events=2
        ).id
        recent = factories.cart_row(session, lines={"SKU-1": 1}, expires_at=days_ago(6)).id
        ordered = factories.cart_row(session, lines={"SKU-1": 1}, expires_at=days_ago(30))
        factories.order(session, lines={"SKU-1": 1}).cart_id = ordered.id
        pointing = factories.cart_row(
            session,
            lines={"SKU-1": 1},
            expires_at=days_ago(30),
            order_id=factories.order(session, lines={"SKU-1": 1}).id,
        )

    deleted, _ = purge()

    assert deleted == 1
    with Session() as session:
        assert session.get(Cart, old) is None
        assert {cart.id for cart in session.scalars(select(Cart))} == {
            recent,
            ordered.id,
            pointing.id,
        }
    assert count(CartItem, CartItem.cart_id == old) == 0
    assert count(CartEvent, CartEvent.cart_id == old) == 0
    assert count(CartItem) == 3
    assert count(Order) == 2


def test_purge_reads_bounded_chunks_walking_expiry_forward(skus):
    with Session.begin() as session:
        for day in range(5):
            factories.cart_row(session, lines={"SKU-1": 1}, expires_at=days_ago(20 - day))

    deleted, after = [], None
    while True:
        count_deleted, chunk = purge(limit=2, after=after)
        deleted.append(count_deleted)
        if len(chunk.addresses) < 2:
            break
        after = chunk.last_expires_at

    assert deleted == [2, 2, 1]
    assert count(Cart) == 0


def test_a_cart_revived_after_it_was_chosen_is_kept(skus):
    with Session.begin() as session:
        cart_id = factories.cart_row(session, lines={"SKU-1": 1}, expires_at=days_ago(9)).id
    with Session() as session:
        chunk = cleanup.purge_candidates(session, cutoff=cutoff(), limit=100)
    with Session.begin() as session:
        session.get(Cart, cart_id).expires_at = utcnow() + dt.timedelta(days=30)

    with Session.begin() as session:
        deleted = cleanup.purge_carts_at(session, addresses=chunk.addresses, cutoff=cutoff())

    assert deleted == 0
    assert count(Cart) == 1


def test_purge_twice_deletes_nothing_more(skus):
    with Session.begin() as session:
        factories.cart_row(session, expires_at=days_ago(9))
        factories.cart_row(session, expires_at=days_ago(1))

    first, _ = purge()
    second, _ = purge()

    assert (first, second) == (1, 0)
    assert count(Cart) == 1
