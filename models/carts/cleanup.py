"""The carts' scheduled upkeep: completing carts of paid orders, purging expired ones.

Each function does one bounded batch in the caller's transaction and claims its rows with
``FOR UPDATE SKIP LOCKED``, so two runs at once split the work instead of doubling it,
and running it again after it finished changes nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    String,
    delete,
    exists,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.orm import Session

from models.carts.lifecycle import complete_cart
from models.carts.tables import Cart, CartStatus
from models.db import affected_rows
from models.orders.status import CAPTURED
from models.orders.tables import Order

logger = logging.getLogger(__name__)


@dataclass
class CleanupResult:
    cleaned: list[str] = field(default_factory=list)
    skipped_without_order: int = 0


def _paid_checkout_carts() -> Select[Cart]:
    return (
        select(Cart)
        .join(Order, Order.id == Cart.order_id)
        .where(Cart.status == CartStatus.CHECKOUT, Order.status.in_(CAPTURED))
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
        if complete_cart(session, cart_id=cart.id, cleaned_by_job=True, order_id=cart.order_id):
            logger.info("Cleaned up checked-out cart %s (order %s)", cart.id, cart.order_id)
            result.cleaned.append(cart.id)
    orphans = session.scalars(
        select(Cart.id)
        .where(Cart.status == CartStatus.CHECKOUT, Cart.order_id.is_(None))
        .limit(limit)
    ).all()
    for cart_id in orphans:
        logger.warning("Cart %s is in checkout but its order does not exist; skipped", cart_id)
    result.skipped_without_order = len(orphans)
    session.flush()
    return result


def carts_pending_cleanup(session: Session) -> int:
    pending = select(func.count()).select_from(_paid_checkout_carts().subquery())
    return session.execute(pending).scalar_one()


# --- Expired sessions ----------------------------------------------------------------------

SESSION_RETENTION = dt.timedelta(days=7)


@dataclass(frozen=True)
class PurgeChunk:
    addresses: list[str]  # row addresses (ctid) of purgeable carts, in physical order
    last_expires_at: dt.datetime | None


def _purgeable(carts: FromClause, *, cutoff: dt.datetime) -> list[ColumnElement[bool]]:
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
    return affected_rows(
        session,
        delete(carts).where(
            text("carts.ctid = ANY(CAST(:addresses AS tid[]))").bindparams(addresses=addresses),
            *_purgeable(carts, cutoff=cutoff),
        ),
    )
