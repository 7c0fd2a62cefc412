"""Stock availability and reservations: the code that must never sell the last item twice.

Available units of a sku in a warehouse = on hand - active reservations not yet expired.
Every operation that changes stock or reservations locks the ``stock_levels`` rows it
touches, always in (sku, warehouse) order, so concurrent checkouts serialise per sku
without deadlocking, and an expired reservation stops counting at ``expires_at`` even
before any job releases it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import and_, bindparam, func, select, update
from sqlalchemy.orm import Session

from models import db
from models.base import utcnow
from models.catalog import StockLevel
from models.orders import Reservation


@dataclass(frozen=True)
class Shortfall:
    sku: str
    requested: int
    available: int


def _reserved_subquery(now: dt.datetime, *, excluding_order: uuid.UUID | None = None):
    conditions = [Reservation.status == "active", Reservation.expires_at > now]
    if excluding_order is not None:
        conditions.append(Reservation.order_id != excluding_order)
    return (
        select(
            Reservation.sku,
            Reservation.warehouse,
            func.sum(Reservation.quantity).label("reserved"),
        )
        .where(*conditions)
        .group_by(Reservation.sku, Reservation.warehouse)
        .subquery()
    )


def available_by_sku(session: Session, skus: Iterable[str]) -> dict[str, int]:
    """Available units per sku over all warehouses, in one query; unknown skus map to 0."""
    wanted = sorted(set(skus))
    if not wanted:
        return {}
    reserved = _reserved_subquery(utcnow())
    rows = session.execute(
        select(
            StockLevel.sku,
            func.sum(StockLevel.on_hand - func.coalesce(reserved.c.reserved, 0)),
        )
        .outerjoin(
            reserved,
            and_(reserved.c.sku == StockLevel.sku, reserved.c.warehouse == StockLevel.warehouse),
        )
        .where(StockLevel.sku.in_(wanted))
        .group_by(StockLevel.sku)
    ).all()
    found = {sku: max(int(units), 0) for sku, units in rows}
    return {sku: found.get(sku, 0) for sku in wanted}


def _lock_stock(session: Session, skus: Iterable[str]) -> list[tuple[StockLevel, int]]:
    """Lock the stock rows of ``skus`` in (sku, warehouse) order; rows with free units."""
    wanted = sorted(set(skus))
    levels = session.scalars(
        select(StockLevel)
        .where(StockLevel.sku.in_(wanted))
        .order_by(StockLevel.sku, StockLevel.warehouse)
        .with_for_update()
    ).all()
    held = _held(session, wanted)
    return [(level, level.on_hand - held.get((level.sku, level.warehouse), 0)) for level in levels]


def reserve(
    session: Session,
    *,
    order_id: uuid.UUID,
    quantities: Mapping[str, int],
    expires_at: dt.datetime,
) -> list[Shortfall]:
    """Reserve every line for ``order_id`` or nothing; returns the shortfalls (empty = done).

    Each sku is filled from its warehouses in name order, most free units first wins ties.
    """
    free_by_sku: dict[str, list[tuple[StockLevel, int]]] = {}
    for level, free in _lock_stock(session, quantities):
        free_by_sku.setdefault(level.sku, []).append((level, free))

    shortfalls = []
    for sku in sorted(quantities):
        total_free = sum(max(free, 0) for _, free in free_by_sku.get(sku, []))
        if total_free < quantities[sku]:
            shortfalls.append(Shortfall(sku, quantities[sku], total_free))
    if shortfalls:
        return shortfalls

    for sku in sorted(quantities):
        needed = quantities[sku]
        for level, free in free_by_sku[sku]:
            take = min(needed, max(free, 0))
            if take:
                session.add(
                    Reservation(
                        order_id=order_id,
                        sku=sku,
                        warehouse=level.warehouse,
                        quantity=take,
                        status="active",
                        expires_at=expires_at,
                    )
                )
                needed -= take
            if not needed:
                break
    session.flush()
    return []


_RESERVATIONS = Reservation.__table__
_STOCK = StockLevel.__table__

# The order's unconfirmed reservations with their stock rows, both locked in
# (sku, warehouse) order like every other stock writer. Every reservation has its stock
# row (foreign key), so the inner join drops none.
_LOCK_UNCONFIRMED = (
    select(
        _RESERVATIONS.c.id,
        _RESERVATIONS.c.sku,
        _RESERVATIONS.c.warehouse,
        _RESERVATIONS.c.quantity,
        _RESERVATIONS.c.status,
        (_RESERVATIONS.c.expires_at > func.now()).label("live"),
        _STOCK.c.on_hand,
    )
    .join(
        _STOCK,
        and_(_STOCK.c.sku == _RESERVATIONS.c.sku, _STOCK.c.warehouse == _RESERVATIONS.c.warehouse),
    )
    .where(
        _RESERVATIONS.c.order_id == bindparam("order_id"),
        _RESERVATIONS.c.status != "confirmed",
    )
    .order_by(_RESERVATIONS.c.sku, _RESERVATIONS.c.warehouse)
    .with_for_update(of=[_RESERVATIONS, _STOCK])
)
_TAKE_STOCK = (
    update(_STOCK)
    .where(
        _STOCK.c.sku == bindparam("stock_sku"), _STOCK.c.warehouse == bindparam("stock_warehouse")
    )
    .values(on_hand=_STOCK.c.on_hand - bindparam("units"), updated_at=func.now())
)
_MARK_CONFIRMED = (
    update(_RESERVATIONS)
    .where(_RESERVATIONS.c.id == func.any(bindparam("ids")))
    .values(status="confirmed")
)


def confirm(session: Session, *, order_id: uuid.UUID) -> list[dict[str, object]]:
    """Turn the order's reservations into sold stock: decrement on hand, never below zero.

    An active reservation that has not expired holds its units, so it needs only the
    units on hand. One that expired or was released is honoured if its units are still
    free of other orders' live reservations. Returns one error per reservation that
    could not be confirmed (nothing raised), so the caller can record it for the retry
    job; confirmed ones are not touched again.

    Runs Core statements on the session's connection (a payment's hot path: no ORM
    objects, no autoflush of unrelated changes); reservation and stock objects the
    session holds for the rows it changes are expired.
    """
    db.flush_if_pending(session, Reservation, StockLevel)
    connection = session.connection()
    rows = connection.execute(_LOCK_UNCONFIRMED, {"order_id": order_id}).all()
    held_by_others: dict[tuple[str, str], int] | None = None
    taken: dict[tuple[str, str], int] = {}
    confirmed: list[int] = []
    errors: list[dict[str, object]] = []
    for row in rows:
        key = (row.sku, row.warehouse)
        units = row.on_hand - taken.get(key, 0)
        if row.status != "active" or not row.live:
            if held_by_others is None:
                held_by_others = _held(session, {r.sku for r in rows}, excluding_order=order_id)
            units -= held_by_others.get(key, 0)
        if units < row.quantity:
            errors.append(
                {
                    "sku": row.sku,
                    "warehouse": row.warehouse,
                    "quantity": row.quantity,
                    "available": max(units, 0),
                    "error": "insufficient stock to confirm reservation",
                }
            )
            continue
        taken[key] = taken.get(key, 0) + row.quantity
        confirmed.append(row.id)
    if confirmed:
        connection.execute(
            _TAKE_STOCK,
            [
                {"stock_sku": sku, "stock_warehouse": warehouse, "units": units}
                for (sku, warehouse), units in taken.items()
            ],
        )
        connection.execute(_MARK_CONFIRMED, {"ids": confirmed})
        db.expire_loaded(session, StockLevel, taken)
        db.expire_loaded(session, Reservation, confirmed)
    return errors


def _held(
    session: Session, skus: Iterable[str], *, excluding_order: uuid.UUID | None = None
) -> dict[tuple[str, str], int]:
    """Units of ``skus`` held by live reservations (but ``excluding_order``'s), per row."""
    reserved = _reserved_subquery(utcnow(), excluding_order=excluding_order)
    rows = session.execute(
        select(reserved.c.sku, reserved.c.warehouse, reserved.c.reserved).where(
            reserved.c.sku.in_(sorted(skus))
        )
    )
    return {(sku, warehouse): int(units) for sku, warehouse, units in rows}


def release(session: Session, *, order_id: uuid.UUID) -> int:
    """Release the order's active reservations; returns how many were released."""
    result = session.execute(
        update(Reservation)
        .where(Reservation.order_id == order_id, Reservation.status == "active")
        .values(status="released")
    )
    return result.rowcount
