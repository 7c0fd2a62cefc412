"""The one availability rule: free units = on hand - live reservations (active, unexpired),
summed over the active warehouses that ship to the buyer's country (every active one
while the country is unknown, as in a cart).

Every stock read builds on ``live_reserved`` and ``serves``: the storefront's cart and
product reads (one correlated subquery per line), the admin's product view and the
reservation code. An expired reservation stops counting at ``expires_at``, before any
job releases it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, SupportsInt

from sqlalchemy import (
    ColumnElement,
    ColumnExpressionArgument,
    Connection,
    ScalarSelect,
    String,
    and_,
    bindparam,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Session

from models.catalog import Product
from models.stock.tables import Reservation, ReservationStatus, StockLevel
from models.warehouses.tables import Warehouse


@dataclass(frozen=True)
class Shortfall:
    sku: str
    requested: int
    available: int


def live_reserved(
    sku: ColumnExpressionArgument[str],
    warehouse: ColumnExpressionArgument[str],
    *,
    excluding_order: uuid.UUID | None = None,
) -> ScalarSelect[Any]:
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


def serves(country: str | ColumnExpressionArgument[str] | None) -> ColumnExpressionArgument[bool]:
    """Whether a ``Warehouse`` row sells to ``country`` (an expression; None: unknown)."""
    if country is None:
        return Warehouse.active
    ships = or_(func.cardinality(Warehouse.ships_to) == 0, Warehouse.ships_to.any_() == country)
    return and_(Warehouse.active, ships)


def free_units(
    sku: ColumnExpressionArgument[str], warehouse: ColumnExpressionArgument[str]
) -> ColumnElement[int]:
    """Free units of the stock row (``sku``, ``warehouse``): on hand less live holds."""
    return StockLevel.on_hand - live_reserved(sku, warehouse)


def available_units_of(
    sku_column: ColumnExpressionArgument[str],
    country: str | ColumnExpressionArgument[str] | None = None,
) -> ScalarSelect[Any]:
    """Free units of the sku in ``sku_column`` over the warehouses serving ``country``.

    NULL when no such warehouse stocks it.
    """
    return (
        select(func.sum(free_units(StockLevel.sku, StockLevel.warehouse)))
        .join(Warehouse, Warehouse.code == StockLevel.warehouse)
        .where(StockLevel.sku == sku_column, serves(country))
        .scalar_subquery()
    )


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


def units(value: SupportsInt | None) -> int:
    """A stock figure from SQL as a count: no stock rows or over-reserved means 0."""
    return max(int(value or 0), 0)


# Built once: the hot read paths only bind parameters.
_SKUS = Product.sku.in_(bindparam("skus", expanding=True))
_AVAILABLE = select(Product.sku, available_units_of(Product.sku)).where(_SKUS)
_AVAILABLE_IN_COUNTRY = select(
    Product.sku, available_units_of(Product.sku, bindparam("country", type_=String))
).where(_SKUS)


def available_units(
    connection: Connection | Session, skus: Iterable[str], *, country: str | None = None
) -> dict[str, int]:
    """Available units per sku for a buyer in ``country`` (None: unknown) in one statement;
    unknown skus map to 0.

    Given a session it runs in the session's transaction (and autoflushes first).
    """
    wanted = sorted(set(skus))
    if not wanted:
        return {}
    found: dict[str, SupportsInt | None]
    if country is None:
        found = dict(connection.execute(_AVAILABLE, {"skus": wanted}).all())
    else:
        parameters = {"skus": wanted, "country": country.upper()}
        found = dict(connection.execute(_AVAILABLE_IN_COUNTRY, parameters).all())
    return {sku: units(found.get(sku)) for sku in wanted}
