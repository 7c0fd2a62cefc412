"""The one availability rule: free units = on hand - live reservations (active, unexpired).

Every stock read builds on ``live_reserved``: the storefront's cart and product reads
(one correlated subquery per line), the admin's product view and the reservation code.
An expired reservation stops counting at ``expires_at``, before any job releases it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, ScalarSelect, bindparam, func, select
from sqlalchemy.orm import Session

from models.catalog import Product
from models.stock.tables import Reservation, ReservationStatus, StockLevel


@dataclass(frozen=True)
class Shortfall:
    sku: str
    requested: int
    available: int


def live_reserved(sku, warehouse, *, excluding_order: uuid.UUID | None = None) -> ScalarSelect:
    """Units of the stock row (``sku``, ``warehouse``) held by live reservations."""
    conditions = [
        Reservation.sku == sku,
        Reservation.warehouse == warehouse,
        Reservation.status == ReservationStatus.ACTIVE,
        Reservation.expires_at > func.now(),
    ]
    if excluding_order is not None:
        conditions.append(Reservation.order_id != excluding_order)
    return (
        select(func.coalesce(func.sum(Reservation.quantity), 0))
        .where(*conditions)
        .scalar_subquery()
    )


def available_units_of(sku_column) -> ScalarSelect:
    """Free units of the sku in ``sku_column`` over all warehouses (NULL: no stock rows)."""
    free = StockLevel.on_hand - live_reserved(StockLevel.sku, StockLevel.warehouse)
    return select(func.sum(free)).where(StockLevel.sku == sku_column).scalar_subquery()


def held_by_row(
    session: Session, skus: Iterable[str], *, excluding_order: uuid.UUID | None = None
) -> dict[tuple[str, str], int]:
    """Units of ``skus`` held by live reservations (but ``excluding_order``'s), per stock row.

    Its own statement, so under READ COMMITTED it sees every reservation committed before
    it ran: run it after locking the stock rows, never in the locking statement.
    """
    held = live_reserved(StockLevel.sku, StockLevel.warehouse, excluding_order=excluding_order)
    rows = session.execute(
        select(StockLevel.sku, StockLevel.warehouse, held).where(StockLevel.sku.in_(sorted(skus)))
    )
    return {(sku, warehouse): int(units) for sku, warehouse, units in rows}


def units(value: object) -> int:
    """A stock figure from SQL as a count: no stock rows or over-reserved means 0."""
    return max(int(value or 0), 0)


# Built once: the hot read paths only bind parameters.
_AVAILABLE = select(Product.sku, available_units_of(Product.sku)).where(
    Product.sku.in_(bindparam("skus", expanding=True))
)


def available_units(connection: Connection | Session, skus: Iterable[str]) -> dict[str, int]:
    """Available units per sku in one statement; unknown skus map to 0.

    Given a session it runs in the session's transaction (and autoflushes first).
    """
    wanted = sorted(set(skus))
    if not wanted:
        return {}
    found = dict(connection.execute(_AVAILABLE, {"skus": wanted}).all())
    return {sku: units(found.get(sku)) for sku in wanted}
