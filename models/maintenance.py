"""The domain side of the scheduled jobs: cart cleanup, session purge, reservation upkeep.

Each function does one bounded batch in the caller's transaction and claims its rows with
``FOR UPDATE SKIP LOCKED``, so two runs at once split the work instead of doubling it,
and running it again after it finished changes nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    DateTime,
    String,
    and_,
    cast,
    delete,
    exists,
    func,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from models import cart_completion, payments
from models.carts import Cart, DiscountCode
from models.orders import Order, OrderEvent, Reservation

logger = logging.getLogger(__name__)

PAID_OR_LATER = ("paid", "shipped", "refunded", "partially_refunded")

# --- Checked-out carts ---------------------------------------------------------------------


@dataclass
class CleanupResult:
    cleaned: list[str] = field(default_factory=list)
    skipped_without_order: int = 0


def _paid_checkout_carts():
    return (
        select(Cart)
        .join(Order, Order.id == Cart.order_id)
        .where(Cart.status == "checkout", Order.status.in_(PAID_OR_LATER))
    )


def cleanup_checked_out_carts(session: Session, *, limit: int = 100) -> CleanupResult:
    """Complete up to ``limit`` carts still in checkout whose order is paid or later.

    Carts in checkout whose order no longer exists are left alone and counted.
    """
    result = CleanupResult()
    carts = session.scalars(
        _paid_checkout_carts()
        .order_by(Cart.last_activity_at)
        .limit(limit)
        .with_for_update(of=Cart, skip_locked=True)
    ).all()
    for cart in carts:
        # The payment webhook's own completion, so both paths leave the same cart behind.
        if cart_completion.complete_cart(
            session, cart_id=cart.id, cleaned_by_job=True, order_id=cart.order_id
        ):
            logger.info("Cleaned up checked-out cart %s (order %s)", cart.id, cart.order_id)
            result.cleaned.append(cart.id)
    orphans = session.scalars(
        select(Cart.id).where(Cart.status == "checkout", Cart.order_id.is_(None)).limit(limit)
    ).all()
    for cart_id in orphans:
        logger.warning("Cart %s is in checkout but its order does not exist; skipped", cart_id)
    result.skipped_without_order = len(orphans)
    session.flush()
    return result


def carts_pending_cleanup(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(_paid_checkout_carts().subquery()))


# --- Expired sessions ----------------------------------------------------------------------

SESSION_RETENTION = dt.timedelta(days=7)


@dataclass(frozen=True)
class PurgeChunk:
    addresses: list[str]  # row addresses (ctid) of purgeable carts, in physical order
    last_expires_at: dt.datetime | None


def _purgeable(carts, *, cutoff: dt.datetime) -> list:
    return [
        carts.c.expires_at < cutoff,
        carts.c.order_id.is_(None),
        ~exists().where(Order.cart_id == carts.c.id),
    ]


def physical_order(address: str) -> tuple[int, int]:
    page, slot = address.strip("()").split(",")
    return int(page), int(slot)


def purge_candidates(
    session: Session, *, cutoff: dt.datetime, limit: int, after: dt.datetime | None = None
) -> PurgeChunk:
    """The next ``limit`` carts that expired before ``cutoff`` and no order refers to.

    Walks ``expires_at`` upwards from ``after`` (the previous chunk's ``last_expires_at``)
    so no chunk rescans what earlier ones passed, and returns their row addresses sorted
    by position in the table: deleting them in that order touches each page once per
    chunk instead of once per cart.
    """
    carts = Cart.__table__
    conditions = _purgeable(carts, cutoff=cutoff)
    if after is not None:
        conditions.append(carts.c.expires_at >= after)
    rows = session.execute(
        select(literal_column("carts.ctid", String), carts.c.expires_at)
        .where(*conditions)
        .order_by(carts.c.expires_at)
        .limit(limit)
    ).all()
    return PurgeChunk(
        sorted((address for address, _ in rows), key=physical_order),
        max((expires_at for _, expires_at in rows), default=None),
    )


def purge_carts_at(session: Session, *, addresses: list[str], cutoff: dt.datetime) -> int:
    """Delete the carts at ``addresses`` (with items, events, emails) that still qualify.

    The conditions are checked on the row being deleted, so a cart revived or ordered
    since it was chosen, or a row that moved, is left alone.
    """
    carts = Cart.__table__
    return session.execute(
        delete(carts).where(
            text("carts.ctid = ANY(CAST(:addresses AS tid[]))").bindparams(addresses=addresses),
            *_purgeable(carts, cutoff=cutoff),
        )
    ).rowcount


# --- Reservation confirmation retries ------------------------------------------------------

ERRORS_KEY = "reservation_confirmation_errors"
RETRY_KEY = "reservation_confirmation_retry"
MANUAL_KEY = "needs_manual_reconciliation"
# Wait before attempt 1, 2, ... measured from the previous attempt (or the error).
RETRY_BACKOFF = (
    dt.timedelta(minutes=5),
    dt.timedelta(minutes=15),
    dt.timedelta(hours=1),
    dt.timedelta(hours=6),
    dt.timedelta(hours=24),
)
MAX_CONFIRMATION_ATTEMPTS = len(RETRY_BACKOFF)
RETRY_WINDOW = dt.timedelta(hours=24)
RETRYABLE_STATUSES = ("paid", "shipped", "partially_refunded")


def _has_errors():
    errors = Order.meta[ERRORS_KEY]
    return and_(
        Order.meta.has_key(ERRORS_KEY),
        func.jsonb_typeof(errors).in_(("array", "object")),
        errors.not_in([[], {}]),
    )


def with_confirmation_errors():
    """Orders whose reservations could not all be confirmed (the reconciliation list)."""
    return select(Order).where(_has_errors())


def orders_due_for_confirmation_retry(
    session: Session, *, now: dt.datetime, limit: int = 100
) -> list[uuid.UUID]:
    """Orders with confirmation errors whose next attempt is due.

    New candidates come from the last 24 h; an order already being retried keeps its
    schedule to the end, even past 24 h.
    """
    next_attempt = func.coalesce(
        cast(Order.meta[RETRY_KEY]["next_attempt_at"].astext, DateTime(timezone=True)),
        Order.updated_at + RETRY_BACKOFF[0],
    )
    return list(
        session.scalars(
            select(Order.id)
            .where(
                _has_errors(),
                ~Order.meta.has_key(MANUAL_KEY),
                Order.status.in_(RETRYABLE_STATUSES),
                or_(Order.created_at >= now - RETRY_WINDOW, Order.meta.has_key(RETRY_KEY)),
                next_attempt <= now,
            )
            .order_by(Order.created_at)
            .limit(limit)
        )
    )


def retry_confirmation(session: Session, *, order_id: uuid.UUID, now: dt.datetime) -> str | None:
    """Try once more to confirm the order's reservations.

    Returns ``"confirmed"`` (errors removed), ``"retrying"`` (next attempt scheduled),
    ``"manual"`` (out of attempts: marked for manual reconciliation) or None when the
    order is locked by someone else or no longer needs it.
    """
    order = session.scalar(
        select(Order).where(Order.id == order_id).with_for_update(skip_locked=True)
    )
    if order is None or not order.meta.get(ERRORS_KEY) or order.meta.get(MANUAL_KEY):
        return None
    attempts = int((order.meta.get(RETRY_KEY) or {}).get("attempts", 0)) + 1
    # The payment webhook's own confirmation: records or clears the errors on the order,
    # its timeline and metrics, the same way whoever confirms.
    errors = payments.confirm_reservations(session, order=order)
    meta: dict[str, Any] = dict(order.meta)
    if not errors:
        meta.pop(RETRY_KEY, None)
        outcome, data = "confirmed", {"attempt": attempts}
    elif attempts >= MAX_CONFIRMATION_ATTEMPTS:
        meta[RETRY_KEY] = {"attempts": attempts, "last_attempt_at": now.isoformat()}
        meta[MANUAL_KEY] = True
        outcome, data = "manual", {"attempt": attempts}
        session.add(
            OrderEvent(
                order_id=order.id,
                kind="manual_reconciliation_required",
                data={"attempts": attempts, "errors": errors},
            )
        )
    else:
        next_attempt_at = (now + RETRY_BACKOFF[attempts]).isoformat()
        meta[RETRY_KEY] = {
            "attempts": attempts,
            "last_attempt_at": now.isoformat(),
            "next_attempt_at": next_attempt_at,
        }
        outcome, data = "retrying", {"attempt": attempts, "next_attempt_at": next_attempt_at}
    session.add(OrderEvent(order_id=order.id, kind="reservation_confirmation_retry", data=data))
    order.meta = meta
    session.flush()
    return outcome


# --- Expired reservations ------------------------------------------------------------------

EXPIRED_REASON = "reservation_expired"


def release_expired_reservations(session: Session, *, now: dt.datetime, limit: int = 1000) -> int:
    """Mark up to ``limit`` active reservations past ``expires_at`` released."""
    expired = (
        select(Reservation.id)
        .where(Reservation.status == "active", Reservation.expires_at <= now)
        .order_by(Reservation.expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    return session.execute(
        update(Reservation)
        .where(Reservation.id.in_(expired))
        .values(status="released")
        .execution_options(synchronize_session=False)
    ).rowcount


def expired_pending_orders(session: Session, *, now: dt.datetime, limit: int = 100) -> list[Order]:
    """Lock up to ``limit`` orders awaiting payment whose reservations have all expired."""
    live = and_(
        Reservation.order_id == Order.id,
        or_(Reservation.status == "confirmed", Reservation.expires_at > now),
    )
    return list(
        session.scalars(
            select(Order)
            .where(
                Order.status == "pending_payment",
                exists().where(Reservation.order_id == Order.id),
                ~exists().where(live),
            )
            .order_by(Order.created_at)
            .limit(limit)
            .with_for_update(of=Order, skip_locked=True)
        )
    )


def cancel_expired_order(session: Session, *, order: Order) -> bool:
    """Cancel a locked order whose reservations expired; returns whether it was canceled.

    The payment webhook's cancel (status, timeline, reservations released, cart active
    again and detached from the order), then what only an expiry implies: the discount
    code the order used is free again.
    """
    if not payments.cancel_order(session, order_id=order.id, reason=EXPIRED_REASON):
        return False
    code = order.meta.get("discount_code")
    if code:
        discount = session.get(DiscountCode, code, with_for_update=True)
        if discount is not None:
            discount.used_at = None
    session.flush()
    return True
