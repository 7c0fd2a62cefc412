"""The admin's stock grid: on hand, reserved and available per sku and warehouse."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from models.stock.availability import live_reserved
from models.stock.tables import StockLevel
from models.warehouses.tables import Warehouse


@dataclass(frozen=True, slots=True)
class Cell:
    sku: str
    warehouse: str
    on_hand: int
    reserved: int
    low_stock_threshold: int

    @property
    def available(self) -> int:
        return max(self.on_hand - self.reserved, 0)

    @property
    def low(self) -> bool:
        return self.available <= self.low_stock_threshold


def cells(
    session: Session,
    *,
    sku: str | None = None,
    warehouse: str | None = None,
    low: bool = False,
    after: tuple[str, str] | None = None,
    limit: int = 200,
) -> list[Cell]:
    """Stock rows in (sku, warehouse) order; ``low``: only active warehouses' low rows."""
    reserved = live_reserved(StockLevel.sku, StockLevel.warehouse)
    statement = (
        select(
            StockLevel.sku,
            StockLevel.warehouse,
            StockLevel.on_hand,
            reserved,
            Warehouse.low_stock_threshold,
        )
        .join(Warehouse, Warehouse.code == StockLevel.warehouse)
        .order_by(StockLevel.sku, StockLevel.warehouse)
        .limit(limit)
    )
    if sku is not None:
        statement = statement.where(StockLevel.sku == sku)
    if warehouse is not None:
        statement = statement.where(StockLevel.warehouse == warehouse)
    if low:
        statement = statement.where(
            Warehouse.active, StockLevel.on_hand - reserved <= Warehouse.low_stock_threshold
        )
    if after is not None:
        statement = statement.where(tuple_(StockLevel.sku, StockLevel.warehouse) > tuple_(*after))
    return [Cell(*row) for row in session.execute(statement)]
