"""The admin's order filters, shared by the list (API and page) and the CSV export.

Filters: status, created date range (``from`` inclusive, ``to`` exclusive), exact
``email``, ``customer`` (part of the email or of the shipping name), ``order_number``,
total range; ``sort`` newest (default), oldest, total_desc or total_asc. Pages are keyset
cursors on (sort key, id), so a page costs the same however deep it is; every sort has
an index to walk (``ix_orders_created_at_id``, ``ix_orders_status_created_at``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints, field_validator
from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from models.orders.status import OrderStatus
from models.orders.tables import Order
from web import cursors
from web.errors import APIError
from web.validation import Schema

DEFAULT_PAGE = 50
MAX_PAGE = 200
Sort = Literal["newest", "oldest", "total_desc", "total_asc"]
Text = Annotated[str, StringConstraints(max_length=320)]
# Sort → (key column, descending?).
SORTS = {
    "newest": (Order.created_at, True),
    "oldest": (Order.created_at, False),
    "total_desc": (Order.total_cents, True),
    "total_asc": (Order.total_cents, False),
}


class OrderFilters(Schema):
    """Query string of the order list and export; unknown parameters are ignored."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, populate_by_name=True)

    status: OrderStatus | None = None
    email: Text | None = None
    customer: Text | None = None
    order_number: Annotated[str, StringConstraints(max_length=32)] | None = None
    from_: dt.datetime | None = Field(None, alias="from")
    to: dt.datetime | None = None
    min_total: int | None = Field(None, ge=0, le=cursors.MAX_PRICE_CENTS)
    max_total: int | None = Field(None, ge=0, le=cursors.MAX_PRICE_CENTS)
    sort: Sort = "newest"
    limit: int = Field(DEFAULT_PAGE, ge=1, le=MAX_PAGE)
    cursor: str | None = None

    @field_validator("from_", "to")
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        # A time without an offset is read as UTC, like every time in the API.
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value

    @field_validator(
        "status",
        "email",
        "customer",
        "order_number",
        "min_total",
        "max_total",
        "cursor",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # An HTML filter form sends every field, empty ones as "".
        return None if isinstance(value, str) and not value.strip() else value


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def conditions(filters: OrderFilters) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if filters.status:
        where.append(Order.status == filters.status)
    if filters.email:
        where.append(Order.email == filters.email)
    if filters.customer:
        pattern = _like(filters.customer)
        name = Order.shipping_address["name"].astext
        where.append(or_(Order.email.ilike(pattern), name.ilike(pattern)))
    if filters.order_number:
        where.append(Order.order_number == filters.order_number.upper())
    if filters.from_:
        where.append(Order.created_at >= filters.from_)
    if filters.to:
        where.append(Order.created_at < filters.to)
    if filters.min_total is not None:
        where.append(Order.total_cents >= filters.min_total)
    if filters.max_total is not None:
        where.append(Order.total_cents <= filters.max_total)
    return where


def ordered(filters: OrderFilters, statement: Select) -> Select:
    """``statement`` filtered and sorted (no page limit: the export streams it all)."""
    key, descending = SORTS[filters.sort]
    statement = statement.where(*conditions(filters))
    if descending:
        return statement.order_by(key.desc(), Order.id.desc())
    return statement.order_by(key.asc(), Order.id.asc())


def page_query(filters: OrderFilters) -> Select[tuple[Order]]:
    """One page of orders (one more than the limit, to tell whether there is a next)."""
    statement = ordered(filters, select(Order))
    if filters.cursor:
        statement = statement.where(_after(filters))
    return statement.limit(filters.limit + 1)


def count_query(filters: OrderFilters) -> Select[int]:
    return select(func.count()).select_from(Order).where(*conditions(filters))


def next_cursor(filters: OrderFilters, last: Order) -> str:
    key, _ = SORTS[filters.sort]
    value = getattr(last, key.key)
    text = value.isoformat() if isinstance(value, dt.datetime) else str(value)
    return cursors.encode(filters.sort, text, str(last.id))


def _after(filters: OrderFilters) -> ColumnElement[bool]:
    sort, text, order_id = cursors.decode(filters.cursor or "", parts=3)
    key, descending = SORTS[filters.sort]
    try:
        if sort != filters.sort:
            raise ValueError(sort)
        value = dt.datetime.fromisoformat(text) if key is Order.created_at else int(text)
        last_id = uuid.UUID(order_id)
        if isinstance(value, int) and not 0 <= value <= cursors.MAX_PRICE_CENTS:
            raise ValueError(text)
    except ValueError:
        raise APIError(
            422,
            "validation_error",
            "The request is invalid.",
            errors=[{"field": "cursor", "message": "not a cursor of this listing and sort"}],
        ) from None
    if descending:
        return or_(key < value, and_(key == value, Order.id < last_id))
    return or_(key > value, and_(key == value, Order.id > last_id))
