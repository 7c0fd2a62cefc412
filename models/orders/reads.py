"""Reading one order for the storefront: its columns and its items in one statement.

The statement is built once and runs on the autocommit engine: a read of one order needs
no transaction, so it is one round trip with no BEGIN or COMMIT around it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, NamedTuple

from sqlalchemy import Connection, bindparam, func, select
from sqlalchemy.dialects.postgresql import aggregate_order_by

from models import db
from models.orders.tables import Order, OrderItem


class OrderLine(NamedTuple):
    sku: str
    name: str
    quantity: int
    unit_price_cents: int


class OrderView(NamedTuple):
    """What the storefront shows of an order, and the email its reader may be tied to."""

    id: uuid.UUID
    order_number: str
    status: str
    email: str
    subtotal_cents: int
    discount_cents: int
    total_cents: int
    currency: str
    created_at: dt.datetime
    paid_at: dt.datetime | None
    items: list[OrderLine]


# The items as one JSON array of [sku, name, quantity, unit_price_cents], in sku order as
# the ``Order.items`` relationship lists them; an order without items reads as [].
_ITEMS = (
    select(
        func.coalesce(
            func.json_agg(
                aggregate_order_by(
                    func.json_build_array(
                        OrderItem.sku,
                        OrderItem.name,
                        OrderItem.quantity,
                        OrderItem.unit_price_cents,
                    ),
                    OrderItem.sku,
                )
            ),
            func.json_build_array(),
        )
    )
    .where(OrderItem.order_id == Order.id)
    .scalar_subquery()
)

_READ = select(
    Order.id,
    Order.order_number,
    Order.status,
    Order.email,
    Order.subtotal_cents,
    Order.discount_cents,
    Order.total_cents,
    Order.currency,
    Order.created_at,
    Order.paid_at,
    _ITEMS,
).where(Order.id == bindparam("order_id"))


def order_view(order_id: uuid.UUID) -> OrderView | None:
    """The order with this id, or None."""

    def query(connection: Connection) -> Any:
        return connection.execute(_READ, {"order_id": order_id}).one_or_none()

    row = db.with_connection(db.autocommit_engine(), query)
    if row is None:
        return None
    return OrderView._make((*row[:-1], [OrderLine(*item) for item in row[-1]]))
