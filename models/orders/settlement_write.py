"""An order's settled payment state and its new timeline lines, written in one statement.

The order row was locked when it was read; the update is still guarded by the status
the database held (as the session knows it), so a write that would not apply to the row
as read raises instead of moving the order from a status it no longer has.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, bindparam, column, func, insert, inspect, select, true, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from models.errors import CartfleetError
from models.orders.tables import Order
from models.orders.timeline import OrderEvent

_ORDERS = Order.__table__
_SETTLED = (
    update(_ORDERS)
    .where(_ORDERS.c.id == bindparam("order_id"), _ORDERS.c.status == bindparam("expected"))
    .values(
        status=bindparam("new_status", type_=_ORDERS.c.status.type),
        metadata=bindparam("new_meta", type_=JSONB),
        paid_at=bindparam("new_paid_at", type_=_ORDERS.c.paid_at.type),
        refunded_cents=bindparam("new_refunded_cents", type_=_ORDERS.c.refunded_cents.type),
        updated_at=func.now(),
    )
    .returning(_ORDERS.c.id)
    .cte("settled")
)
_LINE = (
    func.jsonb_to_recordset(bindparam("lines", type_=JSONB))
    .table_valued(column("kind", String), column("data", JSONB))
    .render_derived(name="line", with_types=True)
)
_LINES = (
    insert(OrderEvent.__table__)
    .from_select(
        ["order_id", "kind", "data"],
        select(_SETTLED.c.id, _LINE.c.kind, _LINE.c.data).join_from(_SETTLED, _LINE, true()),
    )
    .cte("lines")
)
_WRITE = select(_SETTLED.c.id).add_cte(_LINES)
# The lines alone, when the order's columns hold nothing unwritten (flushed already).
_LINES_ONLY = insert(OrderEvent.__table__).from_select(
    ["order_id", "kind", "data"],
    select(bindparam("order_id", type_=_ORDERS.c.id.type), _LINE.c.kind, _LINE.c.data),
)

# The columns a settlement changes; any other change to the order is flushed as usual.
_WRITTEN = ("status", "meta", "paid_at", "refunded_cents")


class StaleOrder(CartfleetError):
    """The order's row no longer holds the status it was read with (the event is retried)."""

    code = "stale_order"
    status = 409


def write(session: Session, *, order: Order, lines: list[dict[str, Any]]) -> None:
    """Write ``order``'s status, payment facts, ``paid_at`` and refunded amount, and ``lines``.

    The written attributes become the session's committed values, so the flush at commit
    does not write them again. Raises ``StaleOrder`` when the row's status moved.

    When they were flushed already (a savepoint on the way flushes the session), only the
    lines are written: a second update of the row in one transaction would check its
    foreign keys and wait on a cart row a request holds.
    """
    attrs = inspect(order).attrs
    if not any(attrs[key].history.has_changes() for key in _WRITTEN):
        if lines:
            session.connection().execute(_LINES_ONLY, {"order_id": order.id, "lines": lines})
        return
    history = attrs.status.history
    # The status as the database holds it: before this change, or unchanged.
    expected = [*history.deleted, *history.unchanged, order.status][0]
    settled = (
        session.connection()
        .execute(
            _WRITE,
            {
                "order_id": order.id,
                "expected": expected,
                "new_status": order.status,
                "new_meta": order.meta,
                "new_paid_at": order.paid_at,
                "new_refunded_cents": order.refunded_cents,
                "lines": lines,
            },
        )
        .first()
    )
    if settled is None:
        raise StaleOrder(f"order {order.id} is no longer {expected!r}")
    for key in _WRITTEN:
        set_committed_value(order, key, getattr(order, key))
