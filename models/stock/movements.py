"""Staff changes to on-hand stock: adjustments (with a reason) and transfers between warehouses.

Both lock the stock rows they touch in (sku, warehouse) order, like checkout, and never
take units that live reservations hold: an adjustment down or a transfer out of a
warehouse is refused (``OutOfStock``) beyond its free units, so nothing reserved is
oversold.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from models.catalog import Product
from models.errors import InvalidItem, NotFound, OutOfStock
from models.stock.availability import held_by_row
from models.stock.tables import StockLevel
from models.warehouses.tables import Warehouse


@dataclass(frozen=True)
class Level:
    sku: str
    warehouse: str
    on_hand: int


def _require(session: Session, sku: str, *warehouses: str) -> None:
    if session.get(Product, sku) is None:
        raise NotFound("No such product.")
    for code in warehouses:
        if session.get(Warehouse, code) is None:
            raise NotFound(f"No warehouse {code!r}.")


def _lock(session: Session, sku: str, warehouses: list[str]) -> dict[str, StockLevel]:
    """The rows (created empty when missing) locked in warehouse order."""
    session.execute(
        insert(StockLevel)
        .values([{"sku": sku, "warehouse": code, "on_hand": 0} for code in warehouses])
        .on_conflict_do_nothing(index_elements=[StockLevel.sku, StockLevel.warehouse])
    )
    rows = session.scalars(
        select(StockLevel)
        .where(StockLevel.sku == sku, StockLevel.warehouse.in_(warehouses))
        .order_by(StockLevel.warehouse)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {row.warehouse: row for row in rows}


def _free(session: Session, row: StockLevel) -> int:
    return row.on_hand - held_by_row(session, [row.sku]).get((row.sku, row.warehouse), 0)


def adjust(session: Session, *, sku: str, warehouse: str, delta: int) -> Level:
    """Add ``delta`` units (negative: remove) to the warehouse's on-hand stock."""
    _require(session, sku, warehouse)
    row = _lock(session, sku, [warehouse])[warehouse]
    if delta < 0 and _free(session, row) + delta < 0:
        raise OutOfStock(
            f"Only {max(_free(session, row), 0)} unreserved unit(s) of {sku} in {warehouse}.",
            available=max(_free(session, row), 0),
        )
    row.on_hand += delta
    session.flush()
    return Level(sku, warehouse, row.on_hand)


def transfer(
    session: Session, *, sku: str, source: str, destination: str, quantity: int
) -> tuple[Level, Level]:
    """Move ``quantity`` free units of ``sku`` from ``source`` to ``destination`` at once."""
    if source == destination:
        raise InvalidItem("to", "A transfer needs two different warehouses.")
    _require(session, sku, source, destination)
    rows = _lock(session, sku, sorted({source, destination}))
    free = _free(session, rows[source])
    if free < quantity:
        raise OutOfStock(
            f"Only {max(free, 0)} unreserved unit(s) of {sku} in {source}.",
            available=max(free, 0),
        )
    rows[source].on_hand -= quantity
    rows[destination].on_hand += quantity
    session.flush()
    return (
        Level(sku, source, rows[source].on_hand),
        Level(sku, destination, rows[destination].on_hand),
    )
