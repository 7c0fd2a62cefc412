"""``GET /admin/api/orders.csv``: the order list's filters as CSV, streamed.

Rows come from a server-side cursor (``yield_per``: psycopg fetches them in batches of
``BATCH``) and leave as they are written, so memory stays flat however many orders
match. ``lines=true`` gives one row per line item instead of one per order. Text cells
starting with ``=``, ``+``, ``-``, ``@``, tab or CR are prefixed with ``'`` so that no
spreadsheet runs a customer's name as a formula.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Iterator
from typing import Any

from flask import Response, stream_with_context
from sqlalchemy import Select, select

from models import db
from models.db import Session
from models.orders.tables import Order, OrderItem
from web.admin import audit, bp
from web.admin.auth import current_actor
from web.admin.order_query import OrderFilters, ordered
from web.validation import parse_query

BATCH = 1000
DOWNLOAD_IDLE_S = 600  # a slow download may leave the cursor's transaction idle this long
DANGEROUS = ("=", "+", "-", "@", "\t", "\r")
ORDER_COLUMNS = (
    Order.order_number,
    Order.created_at,
    Order.status,
    Order.email,
    Order.shipping_address["name"].astext.label("customer_name"),
    Order.currency,
    Order.subtotal_cents,
    Order.discount_cents,
    Order.total_cents,
    Order.refunded_cents,
    Order.discount_code,
    Order.payment_intent_id,
    Order.paid_at,
    Order.shipped_at,
    Order.carrier,
    Order.tracking_number,
)
LINE_COLUMNS = (
    Order.order_number,
    Order.created_at,
    Order.status,
    Order.email,
    Order.shipping_address["name"].astext.label("customer_name"),
    Order.currency,
    OrderItem.sku,
    OrderItem.name.label("item_name"),
    OrderItem.quantity,
    OrderItem.unit_price_cents,
    (OrderItem.quantity * OrderItem.unit_price_cents).label("line_total_cents"),
)


class ExportFilters(OrderFilters):
    lines: bool = False


def neutralise(value: Any) -> Any:
    """A cell a spreadsheet shows as text: ``=HYPERLINK(...)`` becomes ``'=HYPERLINK(...)``."""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(DANGEROUS):
        return "'" + value
    return value


def statement(filters: ExportFilters) -> Select:
    if filters.lines:
        query = select(*LINE_COLUMNS).join(OrderItem, OrderItem.order_id == Order.id)
        return ordered(filters, query).order_by(OrderItem.sku)
    return ordered(filters, select(*ORDER_COLUMNS))


def header(filters: ExportFilters) -> list[str]:
    columns = LINE_COLUMNS if filters.lines else ORDER_COLUMNS
    return [column.key or column.name for column in columns]


def csv_chunks(header: list[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """The CSV text in chunks of about ``BATCH`` rows, header first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for number, row in enumerate(rows, 1):
        writer.writerow([neutralise(value) for value in row])
        if number % BATCH == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _rows(filters: ExportFilters) -> Iterator[tuple[Any, ...]]:
    with Session() as session:
        # The cursor's transaction waits while the client reads what was sent.
        db.allow_idle(session, seconds=DOWNLOAD_IDLE_S)
        result = session.execute(statement(filters).execution_options(yield_per=BATCH))
        yield from result


def filename(filters: ExportFilters) -> str:
    start = filters.from_.date().isoformat() if filters.from_ else "start"
    end = filters.to.date().isoformat() if filters.to else dt.date.today().isoformat()
    kind = "order-lines" if filters.lines else "orders"
    return f"{kind}_{start}_to_{end}.csv"


@bp.get("/api/orders.csv")
def export_orders():
    filters = parse_query(ExportFilters)
    actor = current_actor()
    # A read, but of every matching customer's data: who took it is worth knowing.
    audit.write(
        "export_orders",
        actor=actor.label,
        user_id=actor.user_id,
        target=None,
        status=200,
        lines=filters.lines,
        filters=filters.model_dump(mode="json", exclude={"cursor", "limit", "lines"}),
    )
    body = csv_chunks(header(filters), _rows(filters))
    response = Response(stream_with_context(body), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename(filters)}"'
    return response
