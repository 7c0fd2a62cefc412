"""Admin API: warehouses (list, create, edit, deactivate), the stock grid, adjustments and
transfers (API.md "Admin"). Every state change is audited; adjustments carry their reason."""

from __future__ import annotations

from typing import Annotated, Any

from flask import g
from pydantic import ConfigDict, Field, StrictBool, StrictInt, StringConstraints, field_validator

from models.db import Session
from models.stock import grid, movements
from models.warehouses import edits
from models.warehouses.tables import Warehouse
from web import cursors
from web.admin import bp
from web.errors import APIError
from web.serializers import iso
from web.validation import Schema, parse_body, parse_query

__all__ = ["bp"]

Code = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Country = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2}$", to_upper=True)]
Sku = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Units = Annotated[StrictInt, Field(ge=1, le=1_000_000_000)]


class WarehouseChanges(Schema):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    country: Country | None = None
    postal_code: Annotated[str, StringConstraints(min_length=1, max_length=16)] | None = None
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)
    priority: StrictInt | None = Field(None, ge=-1000, le=1000)
    active: StrictBool | None = None
    ships_to: list[Country] | None = Field(None, max_length=250)
    low_stock_threshold: StrictInt | None = Field(None, ge=0, le=1_000_000)

    @field_validator("name", "country", "priority", "active", "ships_to", "low_stock_threshold")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # Only the location may be cleared (null); these always have a value.
        if value is None:
            raise ValueError("may not be null")
        return value


class NewWarehouse(WarehouseChanges):
    code: Code
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    country: Country


class StockQuery(Schema):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    sku: Sku | None = None
    warehouse: Code | None = None
    low: bool = False
    limit: int = Field(200, ge=1, le=1000)
    cursor: str | None = None

    @field_validator("sku", "warehouse", "cursor", mode="before")
    @classmethod
    def _blank_is_absent(cls, value: Any) -> Any:
        return None if value == "" else value


class Adjustment(Schema):
    sku: Sku
    warehouse: Code
    delta: StrictInt = Field(ge=-1_000_000_000, le=1_000_000_000)
    reason: Annotated[str, StringConstraints(min_length=3, max_length=500)]


class Transfer(Schema):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True)

    sku: Sku
    source: Code = Field(alias="from")
    destination: Code = Field(alias="to")
    quantity: Units


def warehouse_json(warehouse: Warehouse) -> dict[str, Any]:
    return {
        "code": warehouse.code,
        "name": warehouse.name,
        "country": warehouse.country,
        "postal_code": warehouse.postal_code,
        "latitude": warehouse.latitude,
        "longitude": warehouse.longitude,
        "priority": warehouse.priority,
        "active": warehouse.active,
        "ships_to": warehouse.ships_to,
        "low_stock_threshold": warehouse.low_stock_threshold,
        "updated_at": iso(warehouse.updated_at),
    }


def cell_json(cell: grid.Cell) -> dict[str, Any]:
    return {
        "sku": cell.sku,
        "warehouse": cell.warehouse,
        "on_hand": cell.on_hand,
        "reserved": cell.reserved,
        "available": cell.available,
        "low": cell.low,
    }


def create(body: NewWarehouse) -> dict[str, Any]:
    with Session.begin() as session:
        fields = body.model_dump(exclude_none=True, exclude={"code", "name", "country"})
        warehouse = edits.create(
            session, code=body.code, name=body.name, country=body.country, **fields
        )
        return warehouse_json(warehouse)


def update(code: str, body: WarehouseChanges) -> dict[str, Any]:
    with Session.begin() as session:
        changes = body.model_dump(exclude_unset=True)
        return warehouse_json(edits.update(session, code=code, changes=changes))


def stock(query: StockQuery) -> dict[str, Any]:
    after: tuple[str, str] | None = None
    if query.cursor:
        sku, warehouse = cursors.decode(query.cursor, parts=2)
        after = (sku, warehouse)
    with Session() as session:
        rows = grid.cells(
            session,
            sku=query.sku,
            warehouse=query.warehouse,
            low=query.low,
            after=after,
            limit=query.limit + 1,
        )
    page, more = rows[: query.limit], len(rows) > query.limit
    return {
        "items": [cell_json(cell) for cell in page],
        "next_cursor": cursors.encode(page[-1].sku, page[-1].warehouse) if more else None,
    }


def adjust(body: Adjustment) -> dict[str, Any]:
    g.audit_target = f"sku:{body.sku}"
    g.audit_details = {"warehouse": body.warehouse, "delta": body.delta, "reason": body.reason}
    with Session.begin() as session:
        level = movements.adjust(session, sku=body.sku, warehouse=body.warehouse, delta=body.delta)
    return {"sku": level.sku, "warehouse": level.warehouse, "on_hand": level.on_hand}


def transfer(body: Transfer) -> dict[str, Any]:
    g.audit_target = f"sku:{body.sku}"
    g.audit_details = {"from": body.source, "to": body.destination, "quantity": body.quantity}
    with Session.begin() as session:
        source, destination = movements.transfer(
            session,
            sku=body.sku,
            source=body.source,
            destination=body.destination,
            quantity=body.quantity,
        )
    return {
        "sku": body.sku,
        "from": {"warehouse": source.warehouse, "on_hand": source.on_hand},
        "to": {"warehouse": destination.warehouse, "on_hand": destination.on_hand},
    }


@bp.get("/api/warehouses")
def list_warehouses():
    with Session() as session:
        return {"items": [warehouse_json(w) for w in edits.listing(session)]}


@bp.post("/api/warehouses")
def create_warehouse():
    return create(parse_body(NewWarehouse)), 201


# The path parameter is ``warehouse`` so the audit log's target reads ``warehouse:<code>``.
@bp.get("/api/warehouses/<warehouse>")
def get_warehouse(warehouse: str):
    with Session() as session:
        row = session.get(Warehouse, warehouse)
        if row is None:
            raise APIError(404, "not_found", "No such warehouse.")
        return warehouse_json(row)


@bp.patch("/api/warehouses/<warehouse>")
def update_warehouse(warehouse: str):
    return update(warehouse, parse_body(WarehouseChanges))


@bp.get("/api/stock")
def stock_grid():
    return stock(parse_query(StockQuery))


@bp.post("/api/stock/adjustments")
def adjust_stock():
    return adjust(parse_body(Adjustment)), 201


@bp.post("/api/stock/transfers")
def transfer_stock():
    return transfer(parse_body(Transfer)), 201
