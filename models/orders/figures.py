"""Order figures over time: counts and revenue in a window, orders created per hour."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from models.orders.status import CAPTURED, OrderStatus
from models.orders.tables import Order

# One row per hour of the last ``hours``, the current hour last, zero where none.
_PER_HOUR = text("""
SELECT hour, count(o.id) AS orders
FROM generate_series(
    date_trunc('hour', CAST(:now AS timestamptz)) - make_interval(hours => :hours - 1),
    date_trunc('hour', CAST(:now AS timestamptz)),
    interval '1 hour'
) AS hour
LEFT JOIN orders o ON o.created_at >= hour AND o.created_at < hour + interval '1 hour'
GROUP BY hour
ORDER BY hour
""")


def window_figures(session: Session, *, since: dt.datetime) -> dict[str, Any]:
    """Orders created since ``since``, and the revenue (captured totals, per currency)."""
    created = session.scalar(select(func.count()).where(Order.created_at >= since))
    revenue = session.execute(
        select(Order.currency, func.sum(Order.total_cents))
        .where(Order.paid_at >= since, Order.status.in_(CAPTURED))
        .group_by(Order.currency)
        .order_by(Order.currency)
    ).all()
    return {
        "orders": created,
        "revenue_cents": {currency: int(total) for currency, total in revenue},
    }


def awaiting_payment(session: Session) -> int:
    statement = select(func.count()).where(Order.status == OrderStatus.PENDING_PAYMENT)
    return session.scalar(statement) or 0


def orders_per_hour(
    session: Session, *, now: dt.datetime, hours: int = 24
) -> list[tuple[dt.datetime, int]]:
    return [
        (row.hour, row.orders) for row in session.execute(_PER_HOUR, {"now": now, "hours": hours})
    ]
