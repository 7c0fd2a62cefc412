"""Reserving, confirming and releasing stock: the code that must never sell the last item twice.

Every operation that changes stock or reservations locks the ``stock_levels`` rows it
touches, always in (sku, warehouse) order, so concurrent checkouts serialise per sku
without deadlocking. Free units come from ``models.stock.availability``; which
warehouses an order takes them from, from ``models.warehouses.routing``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BindParameter,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from models import db
from models.db import affected_rows
from models.stock.availability import Shortfall, free_units, held_by_row, serves
from models.stock.tables import Reservation, ReservationStatus, StockLevel
from models.warehouses import geo, routing
from models.warehouses.routing import Allocation, Candidate
from models.warehouses.tables import Warehouse

# Every stock row of the order's skus, in every warehouse, locked in (sku, warehouse)
# order: the one lock order of every stock writer (transfers and deactivation included).
_LOCK_ROWS = (
    select(StockLevel.__table__.c.sku)
    .where(StockLevel.__table__.c.sku.in_(bindparam("skus", expanding=True)))
    .order_by(StockLevel.__table__.c.sku, StockLevel.__table__.c.warehouse)
    .with_for_update()
)
# Every line of the allocation from parallel arrays: one statement text for any number of
# lines, no RETURNING (nothing here needs the new rows' ids).
_LINE = (
    func.unnest(
        bindparam("skus", type_=ARRAY(String)),
        bindparam("warehouses", type_=ARRAY(String)),
        bindparam("quantities", type_=ARRAY(Integer)),
    )
    .table_valued("sku", "warehouse", "quantity")
    .render_derived(name="line")
)
_INSERT = insert(Reservation.__table__).from_select(
    ["order_id", "sku", "warehouse", "quantity", "status", "expires_at"],
    select(
        bindparam("order_id", type_=Reservation.__table__.c.order_id.type),
        _LINE.c.sku,
        _LINE.c.warehouse,
        _LINE.c.quantity,
        literal(ReservationStatus.ACTIVE.value),
        bindparam("expires_at", type_=Reservation.__table__.c.expires_at.type),
    ),
)


@dataclass(frozen=True)
class Reserved:
    """What ``reserve`` did: the allocation it reserved, or the lines that fell short."""

    shortfalls: list[Shortfall]
    allocation: Allocation | None = None


def _candidates_query(country: BindParameter[str] | None) -> Select[*tuple[Any, ...]]:
    return (
        select(
            StockLevel.sku,
            StockLevel.warehouse,
            free_units(StockLevel.sku, StockLevel.warehouse),
            Warehouse.country,
            Warehouse.latitude,
            Warehouse.longitude,
            Warehouse.priority,
        )
        .join(Warehouse, Warehouse.code == StockLevel.warehouse)
        .where(StockLevel.sku.in_(bindparam("skus", expanding=True)), serves(country))
    )


# Built once: checkout only binds parameters.
_CANDIDATES = _candidates_query(None)
_CANDIDATES_IN_COUNTRY = _candidates_query(bindparam("country", type_=String))


def _candidates(
    session: Session, skus: list[str], *, country: str | None, place: geo.Place | None
) -> list[Candidate]:
    """The warehouses serving ``country`` with their free units of ``skus``.

    Its own statement after the lock, so under READ COMMITTED it sees every reservation,
    transfer and deactivation committed before the rows were ours.
    """
    connection = session.connection()
    if country is None:
        rows = connection.execute(_CANDIDATES, {"skus": skus})
    else:
        rows = connection.execute(_CANDIDATES_IN_COUNTRY, {"skus": skus, "country": country})
    free: dict[str, dict[str, int]] = {}
    where: dict[str, tuple[float | None, int]] = {}
    for sku, warehouse, units, w_country, latitude, longitude, priority in rows:
        free.setdefault(warehouse, {})[sku] = int(units)
        if warehouse not in where:
            at = (
                geo.Place(latitude, longitude, "given")
                if latitude is not None and longitude is not None
                else geo.locate(w_country, None)
            )
            distance = geo.haversine_km(place, at) if place and at else None
            where[warehouse] = (distance, priority)
    return [Candidate(code, free[code], *where[code]) for code in sorted(free)]


def reserve(
    session: Session,
    *,
    order_id: uuid.UUID,
    quantities: Mapping[str, int],
    expires_at: dt.datetime,
    country: str | None = None,
    place: geo.Place | None = None,
) -> Reserved:
    """Route and reserve every line for ``order_id``, or nothing.

    Only warehouses serving ``country`` (all active ones when None) are considered;
    ``place`` is the shipping address's location for the distance rule (``routing``).
    """
    wanted = sorted(set(quantities))
    # Core on the connection skips autoflush: the order row must exist for the inserts.
    session.flush()
    connection = session.connection()
    connection.execute(_LOCK_ROWS, {"skus": wanted})
    candidates = _candidates(session, wanted, country=country and country.upper(), place=place)
    shortfalls = []
    for sku in wanted:
        total_free = sum(max(c.free.get(sku, 0), 0) for c in candidates)
        if total_free < quantities[sku]:
            shortfalls.append(Shortfall(sku, quantities[sku], total_free))
    allocation = None if shortfalls else routing.route(quantities, candidates)
    if allocation is None:
        return Reserved(shortfalls)
    lines = [
        (sku, part.warehouse, units)
        for part in allocation.parts
        for sku, units in sorted(part.lines.items())
    ]
    connection.execute(
        _INSERT,
        {
            "order_id": order_id,
            "skus": [sku for sku, _, _ in lines],
            "warehouses": [warehouse for _, warehouse, _ in lines],
            "quantities": [units for _, _, units in lines],
            "expires_at": expires_at,
        },
    )
    return Reserved([], allocation)


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
        _RESERVATIONS.c.status != ReservationStatus.CONFIRMED,
    )
    .order_by(_RESERVATIONS.c.sku, _RESERVATIONS.c.warehouse)
    .with_for_update(of=[_RESERVATIONS, _STOCK])
)
# The units taken per stock row (parallel arrays) and the reservations marked confirmed,
# in one statement: the stock update is a data-modifying CTE of the reservations' update.
_TAKEN = (
    func.unnest(
        bindparam("stock_skus", type_=ARRAY(String)),
        bindparam("stock_warehouses", type_=ARRAY(String)),
        bindparam("units", type_=ARRAY(Integer)),
    )
    .table_valued("sku", "warehouse", "units")
    .render_derived(name="taken")
)
_TAKE_STOCK = (
    update(_STOCK)
    .where(_STOCK.c.sku == _TAKEN.c.sku, _STOCK.c.warehouse == _TAKEN.c.warehouse)
    .values(on_hand=_STOCK.c.on_hand - _TAKEN.c.units, updated_at=func.now())
    .cte("take_stock")
)
_CONFIRM = (
    update(_RESERVATIONS)
    .where(_RESERVATIONS.c.id == func.any(bindparam("ids")))
    .values(status=ReservationStatus.CONFIRMED)
    .add_cte(_TAKE_STOCK)
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
        if row.status != ReservationStatus.ACTIVE or not row.live:
            if held_by_others is None:
                held_by_others = held_by_row(
                    session, {r.sku for r in rows}, excluding_order=order_id
                )
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
            _CONFIRM,
            {
                "stock_skus": [sku for sku, _ in taken],
                "stock_warehouses": [warehouse for _, warehouse in taken],
                "units": list(taken.values()),
                "ids": confirmed,
            },
        )
        db.expire_loaded(session, StockLevel, taken)
        db.expire_loaded(session, Reservation, confirmed)
    return errors


def release(session: Session, *, order_id: uuid.UUID) -> int:
    """Release the order's active reservations; returns how many were released."""
    return affected_rows(
        session,
        update(Reservation)
        .where(Reservation.order_id == order_id, Reservation.status == ReservationStatus.ACTIVE)
        .values(status=ReservationStatus.RELEASED),
    )


def release_expired(session: Session, *, now: dt.datetime, limit: int = 1000) -> int:
    """Mark up to ``limit`` active reservations past ``expires_at`` released."""
    expired = (
        select(Reservation.id)
        .where(Reservation.status == ReservationStatus.ACTIVE, Reservation.expires_at <= now)
        .order_by(Reservation.expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    return affected_rows(
        session,
        update(Reservation)
        .where(Reservation.id.in_(expired))
        .values(status=ReservationStatus.RELEASED)
        .execution_options(synchronize_session=False),
    )


def extend(session: Session, *, order_ids: Iterable[uuid.UUID], until: dt.datetime) -> int:
    """Keep the orders' active holds until ``until`` (no stock row lock: nothing is freed)."""
    return affected_rows(
        session,
        update(Reservation)
        .where(
            Reservation.order_id.in_(list(order_ids)),
            Reservation.status == ReservationStatus.ACTIVE,
            Reservation.expires_at < until,
        )
        .values(expires_at=until)
        .execution_options(synchronize_session=False),
    )
