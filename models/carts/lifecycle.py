"""A cart's status: locking it, recording writes, giving it back, completing it.

``return_to_active`` (and, for item writes, ``claim_for_write``) is how a cart becomes
``active`` again, ``mark_abandoned`` the one way it is given up on (the recovery job,
7 days after its last activity), and ``complete_cart`` the one way it is closed,
whoever asks (an edit, a canceled payment, the payment webhook, the cleanup job).
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from sqlalchemy import (
    Integer,
    Row,
    Select,
    bindparam,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from models import db
from models.base import utcnow
from models.carts.tables import (
    CART_TTL,
    WRITABLE_STATUSES,
    Cart,
    CartEvent,
    CartItem,
    CartStatus,
    DiscountCode,
)
from models.errors import CartNotActive, NotFound, VersionConflict

logger = logging.getLogger(__name__)

# A paid order's cart is completed at once; while it is locked, tried again after these.
CART_RETRY_DELAYS_S = (0.1, 0.2, 0.4)

# ``session.info`` key: carts given a new version by statements the ORM does not track
# (completion, abandonment), as ``{cart_id: version}``, for whoever announces changes.
STATEMENT_VERSIONS_KEY = "cartfleet.cart_statement_versions"


def _note_versions(session: Session, versions: dict[str, int]) -> None:
    session.info.setdefault(STATEMENT_VERSIONS_KEY, {}).update(versions)


def lock(session: Session, cart_id: str) -> Cart | None:
    """The cart, locked until the caller's transaction ends, reloaded from the row."""
    return session.get(Cart, cart_id, with_for_update=True, populate_existing=True)


def lock_for_write(session: Session, cart_id: str, *, expected_version: int | None = None) -> Cart:
    """Lock the cart for an edit; checks ``If-Match`` and that the cart takes writes.

    The row lock serialises concurrent writes, so writes without a version never lose
    an update: each one applies on top of the one before.
    """
    cart = lock(session, cart_id)
    if cart is None:
        raise NotFound("No such cart.")
    if expected_version is not None and expected_version != cart.version:
        raise VersionConflict("The cart changed since you read it.", current_version=cart.version)
    if cart.status not in WRITABLE_STATUSES:
        raise CartNotActive(f"The cart is {cart.status} and cannot be changed.")
    return cart


def touch(cart: Cart) -> None:
    """Record a write: new version, fresh activity time and expiry; revives an abandoned cart."""
    now = utcnow()
    cart.version += 1
    cart.last_activity_at = now
    cart.expires_at = now + CART_TTL
    if cart.status == CartStatus.ABANDONED:
        return_to_active(cart)


# --- Item writes: lock, check and touch in one Core statement ------------------------------

_WRITE_COLUMNS = Cart.__table__.c
# Locks the row of a cart that takes writes at the expected version (waiting for a
# concurrent write, whose committed row it then checks again) and records the write as
# ``touch`` does; an ``abandoned`` cart comes back as ``active``. A cart it refuses is
# left as it was.
_CLAIM = (
    update(Cart.__table__)
    .where(
        _WRITE_COLUMNS.id == bindparam("cart_id"),
        or_(*(_WRITE_COLUMNS.status == status for status in WRITABLE_STATUSES)),
        or_(
            bindparam("expected_version", type_=Integer).is_(None),
            _WRITE_COLUMNS.version == bindparam("expected_version", type_=Integer),
        ),
    )
    .values(
        version=_WRITE_COLUMNS.version + 1,
        last_activity_at=bindparam("now"),
        expires_at=bindparam("expires_at"),
        status=CartStatus.ACTIVE,
    )
    .returning(
        _WRITE_COLUMNS.id,
        _WRITE_COLUMNS.status,
        _WRITE_COLUMNS.version,
        _WRITE_COLUMNS.currency,
        _WRITE_COLUMNS.email,
        _WRITE_COLUMNS.order_id,
        _WRITE_COLUMNS.discount_code,
        select(DiscountCode.percent)
        .where(DiscountCode.code == _WRITE_COLUMNS.discount_code)
        .scalar_subquery()
        .label("percent"),
    )
)


def claim_for_write(
    session: Session, cart_id: str, *, expected_version: int | None = None
) -> Row[Any]:
    """``lock_for_write`` and ``touch`` in one statement; the cart's row as written.

    The row has the cart's new ``version`` and its discount's ``percent``; the version is
    noted for the live-cart hints. A refused cart raises what ``lock_for_write`` raises.
    """
    db.flush_if_pending(session, Cart, CartItem)
    now = utcnow()
    parameters = {
        "cart_id": cart_id,
        "expected_version": expected_version,
        "now": now,
        "expires_at": now + CART_TTL,
    }
    connection = session.connection()
    cart = connection.execute(_CLAIM, parameters).one_or_none()
    if cart is None:
        # Gone or refused: ``lock_for_write`` says why. Should it find the cart writable
        # (another write made it so in between), the cart is now locked: claim it again.
        lock_for_write(session, cart_id, expected_version=expected_version)
        cart = connection.execute(_CLAIM, parameters).one()
    if cart.discount_code is not None and cart.percent is None:
        # Deleting a code sets the carts' reference to NULL, which waits on this lock.
        raise AssertionError(f"discount code {cart.discount_code} of a locked cart is missing")
    note_version(session, cart_id, cart.version)
    db.expire_loaded(session, Cart, [cart_id])
    return cart


def note_version(session: Session, cart_id: str, version: int) -> None:
    """Announce ``version`` of the cart once the transaction commits (a Core write)."""
    _note_versions(session, {cart_id: version})


def return_to_active(cart: Cart, *, detach: bool = False) -> None:
    """Make the cart ``active`` again: an abandoned cart written to, or an undone checkout.

    The cart keeps pointing at its order, so should a payment for it arrive after all,
    the cart is completed with it; a new checkout points it at the new order. ``detach``
    drops the order when no payment for it can ever arrive (its PaymentIntent could not
    be created). The caller ``touch``es the cart.
    """
    cart.status = CartStatus.ACTIVE
    if detach:
        cart.order_id = None


def mark_abandoned(session: Session, *, cart_ids: list[str]) -> list[str]:
    """Mark those of these carts still ``active`` as ``abandoned``; returns their ids.

    The recovery job's last step, for carts it holds locked. Their activity time stays
    as it was; a write to such a cart revives it (``touch``).
    """
    if not cart_ids:
        return []
    db.flush_if_pending(session, Cart)
    versions = dict(
        session.execute(
            update(Cart)
            .where(Cart.id.in_(cart_ids), Cart.status == CartStatus.ACTIVE)
            .values(status=CartStatus.ABANDONED, version=Cart.version + 1)
            .returning(Cart.id, Cart.version)
            .execution_options(synchronize_session=False)
        ).all()
    )
    marked = list(versions)
    _note_versions(session, versions)
    db.expire_loaded(session, Cart, marked)
    return marked


# --- Completion: Core statements, as it runs on a payment's hot path ------------------------

_CARTS = Cart.__table__
_CART_ITEMS = CartItem.__table__
_CART_EVENTS = CartEvent.__table__


def _close_statement(*, skip_locked: bool, of_order: bool) -> Select[int]:
    """Lock the open cart, empty it, mark it completed and log the event, as one statement.

    Yields the cart's new version, or no row when it is completed already, gone, held
    by another transaction (``skip_locked``) or, with ``of_order``, no longer the order's.
    """
    target = select(_CARTS.c.id).where(
        _CARTS.c.id == bindparam("cart_id"), _CARTS.c.status != CartStatus.COMPLETED
    )
    if of_order:
        target = target.where(_CARTS.c.order_id == bindparam("paid_order_id"))
    locked = target.with_for_update(skip_locked=skip_locked).cte("locked")
    closed = (
        update(_CARTS)
        .where(_CARTS.c.id == locked.c.id)
        .values(
            status=CartStatus.COMPLETED,
            version=_CARTS.c.version + 1,
            metadata=_CARTS.c.metadata.op("||")(bindparam("completed_by", type_=JSONB)),
        )
        .returning(_CARTS.c.id, _CARTS.c.version)
        .cte("closed")
    )
    emptied = delete(_CART_ITEMS).where(_CART_ITEMS.c.cart_id == closed.c.id)
    logged = insert(_CART_EVENTS).from_select(
        ["cart_id", "kind", "at"], select(closed.c.id, literal("completed"), func.now())
    )
    return select(closed.c.version).add_cte(emptied.cte("emptied"), logged.cte("logged"))


_CLOSE = {
    (skip_locked, of_order): _close_statement(skip_locked=skip_locked, of_order=of_order)
    for skip_locked in (False, True)
    for of_order in (False, True)
}


def complete_cart(
    session: Session,
    *,
    cart_id: str,
    cleaned_by_job: bool = False,
    order_id: uuid.UUID | None = None,
    skip_locked: bool = False,
) -> bool:
    """Empty the cart and close it (``completed``); returns whether it changed.

    ``order_id`` completes it only while it still belongs to that order (a cart that was
    reactivated and checked out again is left alone). ``skip_locked`` returns False at
    once when another transaction holds the cart instead of waiting for it. Runs one Core
    statement on the session's connection (no ORM objects, no autoflush of unrelated
    changes); a ``Cart`` loaded in ``session`` is expired.
    """
    db.flush_if_pending(session, Cart, CartItem)
    completed_by = (
        {"completed_by": "job", "cleaned_by_job": True}
        if cleaned_by_job
        else {"completed_by": "payment"}
    )
    version = (
        session.connection()
        .execute(
            _CLOSE[skip_locked, order_id is not None],
            {"cart_id": cart_id, "paid_order_id": order_id, "completed_by": completed_by},
        )
        .scalar_one_or_none()
    )
    if version is None:
        return False
    _note_versions(session, {cart_id: version})
    db.expire_loaded(session, Cart, [cart_id])
    return True


def done_or_moved_on(session: Session, *, cart_id: str, order_id: uuid.UUID) -> bool:
    """Nothing left to complete for this order: the cart is completed, gone, or re-ordered."""
    row = session.execute(
        select(Cart.status, Cart.order_id).where(Cart.id == cart_id)
    ).one_or_none()
    return row is None or row.status == CartStatus.COMPLETED or row.order_id != order_id


def complete_cart_quickly(
    session: Session,
    *,
    cart_id: str,
    order_id: uuid.UUID,
    delays: tuple[float, ...] = CART_RETRY_DELAYS_S,
) -> int | None:
    """Complete a paid order's cart now, retrying after each of ``delays`` if it is locked.

    The cart is claimed with ``SKIP LOCKED``, so a busy cart costs no savepoint and never
    blocks the payment. Returns the retries it took, or None when every try found it
    locked: the cart stays in ``checkout`` with a paid order for the cleanup job.
    """
    for attempt in range(len(delays) + 1):
        if complete_cart(session, cart_id=cart_id, order_id=order_id, skip_locked=True):
            return attempt
        if done_or_moved_on(session, cart_id=cart_id, order_id=order_id):
            return attempt
        logger.info("Cart %s busy on try %d", cart_id, attempt + 1)
        if attempt < len(delays):
            time.sleep(delays[attempt])
    return None
