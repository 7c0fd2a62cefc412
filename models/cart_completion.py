"""Closing a paid order's cart, and giving it back when the payment is canceled.

The payment's hot path: Core statements on the session's connection, no ORM objects.
"""

from __future__ import annotations

import logging
import time
import uuid

from prometheus_client import Counter, Histogram
from sqlalchemy import Insert, Select, bindparam, delete, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from models import db
from models.after_commit import after_commit
from models.base import utcnow
from models.carts import Cart, CartEvent, CartItem
from models.orders import Order, add_event

logger = logging.getLogger(__name__)

CART_CLEANUP_FAILED = Counter(
    "checkout_cart_cleanup_failed_total",
    "Carts of paid orders that could not be completed at payment time (left for the job).",
)
CART_CLEANUP_RETRIES = Histogram(
    "checkout_cart_cleanup_retries",
    "Quick retries a paid order's cart needed before it was completed.",
    buckets=(0, 1, 2, 3),
)
CART_RETRY_DELAYS_S = (0.1, 0.2, 0.4)

_CARTS = Cart.__table__
_CART_ITEMS = CartItem.__table__
_CART_EVENTS = CartEvent.__table__


def _lock_cart(*, skip_locked: bool) -> Select:
    return (
        select(_CARTS.c.status, _CARTS.c.order_id)
        .where(_CARTS.c.id == bindparam("cart_id"))
        .with_for_update(skip_locked=skip_locked)
    )


def _close_cart() -> Insert:
    """Empty the cart, mark it completed and log the event, as one statement."""
    emptied = delete(_CART_ITEMS).where(_CART_ITEMS.c.cart_id == bindparam("cart_id"))
    closed = (
        update(_CARTS)
        .where(_CARTS.c.id == bindparam("cart_id"))
        .values(
            status="completed",
            is_active=False,
            version=_CARTS.c.version + 1,
            metadata=_CARTS.c.metadata.op("||")(bindparam("completed_by", type_=JSONB)),
        )
        .returning(_CARTS.c.id)
        .cte("closed")
    )
    return (
        insert(_CART_EVENTS)
        .from_select(
            ["cart_id", "kind", "at"], select(closed.c.id, literal("completed"), func.now())
        )
        .add_cte(emptied.cte("emptied"))
    )


_LOCK_CART = {skip: _lock_cart(skip_locked=skip) for skip in (False, True)}
_CLOSE_CART = _close_cart()


def complete_cart(
    session: Session,
    *,
    cart_id: str,
    cleaned_by_job: bool = False,
    order_id: uuid.UUID | None = None,
    skip_locked: bool = False,
) -> bool:
    """Empty the cart and close it (``completed``, inactive); returns whether it changed.

    ``order_id`` completes it only while it still belongs to that order (a cart that was
    reactivated and checked out again is left alone). ``skip_locked`` returns False at
    once when another transaction holds the cart instead of waiting for it. Runs Core
    statements on the session's connection (a payment's hot path: no ORM objects, no
    autoflush of unrelated changes); a ``Cart`` loaded in ``session`` is expired.
    """
    db.flush_if_pending(session, Cart, CartItem)
    connection = session.connection()
    cart = connection.execute(_LOCK_CART[skip_locked], {"cart_id": cart_id}).one_or_none()
    if cart is None or cart.status == "completed":
        return False
    if order_id is not None and cart.order_id != order_id:
        return False
    completed_by = (
        {"completed_by": "job", "cleaned_by_job": True}
        if cleaned_by_job
        else {"completed_by": "payment"}
    )
    connection.execute(_CLOSE_CART, {"cart_id": cart_id, "completed_by": completed_by})
    db.expire_loaded(session, Cart, [cart_id])
    return True


def _cart_done_or_gone(session: Session, *, cart_id: str, order_id: uuid.UUID) -> bool:
    """Nothing left to do for this cart (someone else completed it, or it moved on)."""
    row = session.execute(
        select(Cart.status, Cart.order_id).where(Cart.id == cart_id)
    ).one_or_none()
    return row is None or row.status == "completed" or row.order_id != order_id


def complete_cart_quickly(
    session: Session,
    *,
    order: Order,
    delays: tuple[float, ...] = CART_RETRY_DELAYS_S,
) -> bool:
    """Complete the order's cart now, retrying after each of ``delays`` if it is locked.

    The cart is claimed with ``SKIP LOCKED``, so a busy cart costs no savepoint and never
    blocks the payment. Returns False when every try found it locked: the cart stays in
    ``checkout`` with a paid order for the cleanup job, and
    ``checkout_cart_cleanup_failed_total`` counts it.
    """
    if order.cart_id is None:
        return True
    for attempt in range(len(delays) + 1):
        if complete_cart(session, cart_id=order.cart_id, order_id=order.id, skip_locked=True):
            after_commit(session, lambda tries=attempt: CART_CLEANUP_RETRIES.observe(tries))
            return True
        if _cart_done_or_gone(session, cart_id=order.cart_id, order_id=order.id):
            return True
        logger.info("Cart %s busy on try %d", order.cart_id, attempt + 1)
        if attempt < len(delays):
            time.sleep(delays[attempt])
    add_event(session, order, "cart_cleanup_deferred", cart_id=order.cart_id)
    after_commit(session, CART_CLEANUP_FAILED.inc)
    return False


def reactivate_cart(session: Session, *, order: Order) -> bool:
    """Give the buyer their cart back when the order's payment is canceled."""
    if order.cart_id is None:
        return False
    cart = session.get(Cart, order.cart_id, with_for_update=True, populate_existing=True)
    if cart is None or cart.status != "checkout" or cart.order_id != order.id:
        return False
    # The cart keeps pointing at the order: should the payment succeed after all, the
    # cart is completed with it; a new checkout points it at the new order.
    cart.status, cart.is_active = "active", True
    cart.version += 1
    cart.last_activity_at = utcnow()
    add_event(session, order, "cart_reactivated", cart_id=cart.id)
    return True
