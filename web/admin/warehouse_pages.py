"""The admin's warehouse and stock pages: warehouses (list, create, edit, deactivate), the
stock grid (sku by warehouse) with low stock, adjustments and transfers.

Each form posts through the same function as its ``/admin/api`` twin
(``web.admin.warehouses``), then redirects back with a message; a refusal (a busy
warehouse, too few free units, bad input) becomes that message and changes nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from flask import flash, redirect, render_template, request, url_for

from models.db import Session
from models.stock import grid
from models.warehouses import edits
from models.warehouses.tables import Warehouse
from web.admin import bp, warehouses
from web.admin.forms import form_action
from web.errors import APIError

__all__ = ["bp"]

GRID_ROWS = 1000
NUMBERS = ("priority", "low_stock_threshold", "delta", "quantity")
FLOATS = ("latitude", "longitude")


def _form() -> dict[str, Any]:
    """The posted form: blank fields absent, numbers as numbers, lists split on commas."""
    data: dict[str, Any] = {k: v.strip() for k, v in request.form.items() if v.strip()}
    data.pop("csrf_token", None)
    for name in NUMBERS:
        if name in data and data[name].lstrip("-").isdigit():
            data[name] = int(data[name])
    for name in FLOATS:
        if name in data:
            with contextlib.suppress(ValueError):  # left as text: the schema refuses it
                data[name] = float(data[name])
    if "ships_to" in data:
        data["ships_to"] = [c.strip() for c in data["ships_to"].split(",") if c.strip()]
    return data


def _act(back: str, action: Callable[[], str]):
    with form_action():
        flash(action(), "ok")
    return redirect(back, 303)


@bp.get("/warehouses")
def page_warehouses():
    with Session() as session:
        rows = [warehouses.warehouse_json(w) for w in edits.listing(session)]
    return render_template("admin/warehouses.html", warehouses=rows)


@bp.post("/warehouses")
def page_create_warehouse():
    def action() -> str:
        created = warehouses.create(warehouses.NewWarehouse.model_validate(_form()))
        return f"Warehouse {created['code']} created."

    return _act(url_for("admin.page_warehouses"), action)


@bp.get("/warehouses/<warehouse>")
def page_warehouse(warehouse: str):
    with Session() as session:
        row = session.get(Warehouse, warehouse)
        if row is None:
            raise APIError(404, "not_found", "No such warehouse.")
        shown = warehouses.warehouse_json(row)
    return render_template("admin/warehouse.html", warehouse=shown)


@bp.post("/warehouses/<warehouse>")
def page_update_warehouse(warehouse: str):
    def action() -> str:
        changes = _form()
        # A blank location field clears it; its absence from the form is not a change.
        for name in ("postal_code", *FLOATS):
            changes.setdefault(name, None)
        warehouses.update(warehouse, warehouses.WarehouseChanges.model_validate(changes))
        return f"Warehouse {warehouse} saved."

    return _act(url_for("admin.page_warehouse", warehouse=warehouse), action)


@bp.post("/warehouses/<warehouse>/deactivate")
def page_deactivate_warehouse(warehouse: str):
    def action() -> str:
        warehouses.update(warehouse, warehouses.WarehouseChanges(active=False))
        return f"Warehouse {warehouse} deactivated: it no longer sells or ships."

    return _act(url_for("admin.page_warehouses"), action)


@bp.post("/warehouses/<warehouse>/activate")
def page_activate_warehouse(warehouse: str):
    def action() -> str:
        warehouses.update(warehouse, warehouses.WarehouseChanges(active=True))
        return f"Warehouse {warehouse} active again."

    return _act(url_for("admin.page_warehouses"), action)


@bp.get("/stock")
def page_stock():
    sku = request.args.get("sku", "").strip() or None
    with Session() as session:
        codes = [w.code for w in edits.listing(session)]
        cells = grid.cells(session, sku=sku, limit=GRID_ROWS)
        low = grid.cells(session, low=True, limit=GRID_ROWS)
    table: dict[str, dict[str, grid.Cell]] = {}
    for cell in cells:
        table.setdefault(cell.sku, {})[cell.warehouse] = cell
    return render_template(
        "admin/stock.html",
        codes=codes,
        table=table,
        low=low,
        sku=sku or "",
        truncated=len(cells) == GRID_ROWS,
    )


@bp.post("/stock/adjustments")
def page_adjust_stock():
    def action() -> str:
        level = warehouses.adjust(warehouses.Adjustment.model_validate(_form()))
        return f"{level['sku']} in {level['warehouse']}: {level['on_hand']} on hand."

    return _act(url_for("admin.page_stock"), action)


@bp.post("/stock/transfers")
def page_transfer_stock():
    def action() -> str:
        moved = warehouses.transfer(warehouses.Transfer.model_validate(_form()))
        source, destination = moved["from"], moved["to"]
        return (
            f"Moved {moved['sku']}: {source['warehouse']} now {source['on_hand']}, "
            f"{destination['warehouse']} now {destination['on_hand']}."
        )

    return _act(url_for("admin.page_stock"), action)
