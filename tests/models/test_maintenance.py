"""The domain side of the scheduled jobs, on crafted rows: what changes, what is left."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from models import inventory, maintenance
from models.base import utcnow
from models.carts import Cart, CartEvent, CartItem, DiscountCode
from models.catalog import StockLevel
from models.db import Session
from models.orders import Order, OrderEvent, Reservation
from tests.support import factories


@pytest.fixture
def skus():
    with Session.begin() as session:
        factories.product(session, "SKU-1", stock={"main": 50})
        factories.product(session, "SKU-2", stock={"main": 50})
    return ["SKU-1", "SKU-2"]


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
        result = maintenance.cleanup_checked_out_carts(session)

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
        assert maintenance.carts_pending_cleanup(session) == 0


def test_cleanup_twice_changes_nothing_the_second_time(skus):
    with Session.begin() as session:
        cart_id = checkout_cart(session, order_status="paid").id
    with Session.begin() as session:
        maintenance.cleanup_checked_out_carts(session)
    with Session() as session:
        version = session.get(Cart, cart_id).version

    with Session.begin() as session:
        again = maintenance.cleanup_checked_out_carts(session)

    assert again.cleaned == []
    with Session() as session:
        assert session.get(Cart, cart_id).version == version


def test_cleanup_takes_at_most_the_batch_limit(skus):
    with Session.begin() as session:
        for _ in range(5):
            checkout_cart(session, order_status="paid")

    with Session.begin() as session:
        first = maintenance.cleanup_checked_out_carts(session, limit=2)
    with Session() as session:
        pending = maintenance.carts_pending_cleanup(session)

    assert len(first.cleaned) == 2
    assert pending == 3


def test_cleanup_skips_carts_another_transaction_holds(skus):
    with Session.begin() as session:
        locked = checkout_cart(session, order_status="paid").id
        free = checkout_cart(session, order_status="paid").id

    with Session.begin() as holder:
        holder.get(Cart, locked, with_for_update=True)
        with Session.begin() as session:
            result = maintenance.cleanup_checked_out_carts(session)

    assert result.cleaned == [free]


# --- purge of expired sessions -------------------------------------------------------------


def days_ago(days: float) -> dt.datetime:
    return utcnow() - dt.timedelta(days=days)


def cutoff() -> dt.datetime:
    return utcnow() - maintenance.SESSION_RETENTION


def purge(*, limit: int = 100, after=None) -> tuple[int, maintenance.PurgeChunk]:
    with Session() as session:
        chunk = maintenance.purge_candidates(session, cutoff=cutoff(), limit=limit, after=after)
    with Session.begin() as session:
        deleted = maintenance.purge_carts_at(session, addresses=chunk.addresses, cutoff=cutoff())
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
        chunk = maintenance.purge_candidates(session, cutoff=cutoff(), limit=100)
    with Session.begin() as session:
        session.get(Cart, cart_id).expires_at = utcnow() + dt.timedelta(days=30)

    with Session.begin() as session:
        deleted = maintenance.purge_carts_at(session, addresses=chunk.addresses, cutoff=cutoff())

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


# --- reservation confirmation retries ------------------------------------------------------


def paid_order_with_errors(session, *, quantity=2, on_hand=1, created_at=None) -> Order:
    """A paid order whose reservation could not be confirmed: fewer units than reserved."""
    order = factories.order(
        session, status="paid", lines={"SKU-1": quantity}, created_at=created_at
    )
    inventory.reserve(
        session, order_id=order.id, quantities={"SKU-1": quantity}, expires_at=utcnow()
    )
    session.get(StockLevel, ("SKU-1", "main")).on_hand = on_hand
    errors = inventory.confirm(session, order_id=order.id)
    assert errors
    order.meta = {**order.meta, maintenance.ERRORS_KEY: errors}
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
        assert maintenance.orders_due_for_confirmation_retry(session, now=now) == []
        later = now + dt.timedelta(minutes=5, seconds=1)
        assert maintenance.orders_due_for_confirmation_retry(session, now=later) == [order_id]


def test_failed_retry_backs_off_then_success_removes_the_error(skus):
    with Session.begin() as session:
        order_id = paid_order_with_errors(session, quantity=2, on_hand=1).id
    now = utcnow() + dt.timedelta(minutes=6)

    with Session.begin() as session:
        assert maintenance.retry_confirmation(session, order_id=order_id, now=now) == "retrying"
    with Session() as session:
        state = session.get(Order, order_id).meta[maintenance.RETRY_KEY]
        assert state["attempts"] == 1
        assert dt.datetime.fromisoformat(state["next_attempt_at"]) == now + dt.timedelta(minutes=15)
        assert maintenance.orders_due_for_confirmation_retry(session, now=now) == []
        due_at = now + dt.timedelta(minutes=15)
        assert maintenance.orders_due_for_confirmation_retry(session, now=due_at) == [order_id]

    with Session.begin() as session:
        session.get(StockLevel, ("SKU-1", "main")).on_hand = 5  # restocked
    with Session.begin() as session:
        outcome = maintenance.retry_confirmation(
            session, order_id=order_id, now=now + dt.timedelta(minutes=15)
        )

    assert outcome == "confirmed"
    assert stock() == 3
    with Session() as session:
        order = session.get(Order, order_id)
        assert maintenance.ERRORS_KEY not in order.meta
        assert maintenance.RETRY_KEY not in order.meta
        assert [r.status for r in order.reservations] == ["confirmed"]
        kinds = [event.kind for event in order.events]
        assert kinds[-3:] == [
            "reservation_confirmation_errors_cleared",
            "reservations_confirmed",
            "reservation_confirmation_retry",
        ]
        later = now + dt.timedelta(days=2)
        assert maintenance.orders_due_for_confirmation_retry(session, now=later) == []


def test_five_failed_attempts_mark_the_order_for_manual_reconciliation(skus):
    with Session.begin() as session:
        order_id = paid_order_with_errors(session).id
    now = utcnow()
    gaps = [dt.timedelta(minutes=5), *maintenance.RETRY_BACKOFF[1:]]
    outcomes = []
    for gap in gaps:
        now += gap + dt.timedelta(seconds=1)
        with Session() as session:
            assert maintenance.orders_due_for_confirmation_retry(session, now=now) == [order_id]
        with Session.begin() as session:
            outcomes.append(maintenance.retry_confirmation(session, order_id=order_id, now=now))

    assert outcomes == ["retrying"] * 4 + ["manual"]
    with Session() as session:
        order = session.get(Order, order_id)
        assert order.meta[maintenance.MANUAL_KEY] is True
        assert order.meta[maintenance.RETRY_KEY]["attempts"] == 5
        assert order.meta[maintenance.ERRORS_KEY]
        far = now + dt.timedelta(days=3)
        assert maintenance.orders_due_for_confirmation_retry(session, now=far) == []
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
        assert maintenance.orders_due_for_confirmation_retry(session, now=later) == []


def test_orders_without_errors_or_not_paid_are_not_retried(skus):
    with Session.begin() as session:
        factories.order(session, status="paid", lines={"SKU-1": 1})
        canceled = paid_order_with_errors(session)
        canceled.status = "canceled"
        empty = factories.order(session, status="paid", lines={"SKU-1": 1})
        empty.meta = {maintenance.ERRORS_KEY: []}

    with Session() as session:
        later = utcnow() + dt.timedelta(hours=1)
        assert maintenance.orders_due_for_confirmation_retry(session, now=later) == []


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
    inventory.reserve(
        session,
        order_id=order.id,
        quantities={"SKU-1": 2, "SKU-2": 1},
        expires_at=utcnow() + expires_in,
    )
    return order, cart


def release_and_cancel(now=None) -> tuple[int, list]:
    now = now or utcnow()
    with Session.begin() as session:
        released = maintenance.release_expired_reservations(session, now=now)
        orders = maintenance.expired_pending_orders(session, now=now)
        canceled = [o.id for o in orders if maintenance.cancel_expired_order(session, order=o)]
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
        released = maintenance.release_expired_reservations(session, now=utcnow(), limit=4)

    assert released == 4
    assert count(Reservation, Reservation.status == "active") == 2


def test_an_expired_checkout_frees_its_discount_code(skus):
    with Session.begin() as session:
        order, cart = pending_checkout(session, expires_in=-dt.timedelta(minutes=1))
        code = factories.discount_code(session, "BACK10", cart_id=cart.id, used_at=utcnow())
        order.meta = {**order.meta, "discount_code": code.code}

    release_and_cancel()

    with Session() as session:
        assert session.get(DiscountCode, "BACK10").used_at is None
