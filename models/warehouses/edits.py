"""Creating, changing and deactivating warehouses.

Deactivation is refused while the warehouse holds live reservations (``WarehouseBusy``).
It locks the warehouse's stock rows, in sku order like every stock writer, before it
looks: a checkout reserving there either committed first (and is seen) or waits for the
deactivation and then finds the warehouse inactive (``models.stock.reservations`` reads
warehouses after taking its stock locks).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.errors import NotFound, WarehouseBusy, WarehouseExists
from models.stock.tables import Reservation, ReservationStatus, StockLevel
from models.warehouses import geo
from models.warehouses.tables import Warehouse


def _place(warehouse: Warehouse, *, given: bool) -> None:
    """Fill the coordinates from a US postal code unless the caller gave them."""
    if given or not warehouse.postal_code:
        return
    place = geo.postal_code_place(warehouse.country, warehouse.postal_code)
    warehouse.latitude = place.latitude if place else None
    warehouse.longitude = place.longitude if place else None


def _normalised(fields: Mapping[str, Any]) -> dict[str, Any]:
    values = dict(fields)
    if values.get("country"):
        values["country"] = values["country"].upper()
    if "ships_to" in values:
        values["ships_to"] = sorted({country.upper() for country in values["ships_to"] or ()})
    return values


def create(session: Session, *, code: str, name: str, country: str, **fields: Any) -> Warehouse:
    """Add a warehouse; raises ``WarehouseExists`` for a code already taken."""
    if session.get(Warehouse, code) is not None:
        raise WarehouseExists(f"A warehouse {code!r} exists already.")
    values = _normalised({"name": name, "country": country, **fields})
    warehouse = Warehouse(code=code, **values)
    _place(warehouse, given=values.get("latitude") is not None)
    session.add(warehouse)
    session.flush()
    return warehouse


def live_reservations(session: Session, code: str) -> int:
    """Units held by live reservations in the warehouse."""
    held = session.scalar(
        select(func.coalesce(func.sum(Reservation.quantity), 0)).where(
            Reservation.warehouse == code,
            Reservation.status == ReservationStatus.ACTIVE,
            Reservation.expires_at > func.now(),
        )
    )
    return held or 0


def update(session: Session, *, code: str, changes: Mapping[str, Any]) -> Warehouse:
    """Apply ``changes`` (given fields; None clears); deactivating may raise ``WarehouseBusy``."""
    # FOR NO KEY UPDATE: stock rows pointing here (their foreign key) are not blocked.
    warehouse = session.get(Warehouse, code, with_for_update={"key_share": True})
    if warehouse is None:
        raise NotFound("No such warehouse.")
    values = _normalised(changes)
    if values.get("active") is False and warehouse.active:
        _refuse_if_busy(session, code)
    for field, value in values.items():
        setattr(warehouse, field, value)
    if any(field in values for field in ("country", "postal_code")):
        _place(warehouse, given=values.get("latitude") is not None)
    session.flush()
    return warehouse


def _refuse_if_busy(session: Session, code: str) -> None:
    session.execute(
        select(StockLevel.sku)
        .where(StockLevel.warehouse == code)
        .order_by(StockLevel.sku)
        .with_for_update()
    )
    held = live_reservations(session, code)
    if held:
        raise WarehouseBusy(
            f"Warehouse {code!r} holds {held} reserved unit(s) for orders awaiting payment; "
            "deactivate it once they are paid or released.",
            reserved=held,
        )


def listing(session: Session) -> Sequence[Warehouse]:
    return session.scalars(select(Warehouse).order_by(Warehouse.code)).all()
