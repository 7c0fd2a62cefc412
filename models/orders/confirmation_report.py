"""Figures of the reconciliation page, read from the ``orders_with_reservation_errors`` view.

The view (migration 0005) holds the orders whose reservations could not all be confirmed
and are not resolved yet; docs/runbooks/reconciliation.md queries it the same way. The
trend reads the order timeline instead, so resolved orders still count on their day.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

TREND_DAYS = 7

_AFFECTED = text("SELECT count(*) FROM orders_with_reservation_errors")

_TOP_PRODUCTS = text("""
SELECT error->>'sku' AS sku,
       count(DISTINCT o.id) AS orders,
       sum(GREATEST((error->>'quantity')::int - (error->>'available')::int, 0)) AS units_short
FROM orders_with_reservation_errors o, jsonb_array_elements(o.errors) AS error
GROUP BY 1
ORDER BY orders DESC, units_short DESC, sku
LIMIT :limit
""")

_TOP_REASONS = text("""
SELECT COALESCE(error->>'error', 'unknown') AS reason, count(*) AS errors
FROM orders_with_reservation_errors o, jsonb_array_elements(o.errors) AS error
GROUP BY 1
ORDER BY errors DESC, reason
LIMIT :limit
""")

# One row per UTC day, today last, zero where nothing failed.
_TREND = text("""
SELECT day::date AS day,
       count(DISTINCT e.order_id) AS orders,
       count(e.id) AS failures
FROM generate_series(
    date_trunc('day', CAST(:now AS timestamptz) AT TIME ZONE 'UTC')
        - make_interval(days => :days - 1),
    date_trunc('day', CAST(:now AS timestamptz) AT TIME ZONE 'UTC'),
    interval '1 day'
) AS day
LEFT JOIN order_events e
    ON e.kind = 'reservation_confirmation_failed'
    AND e.at >= day AT TIME ZONE 'UTC'
    AND e.at < (day + interval '1 day') AT TIME ZONE 'UTC'
GROUP BY day
ORDER BY day
""")


def affected_orders(session: Session) -> int:
    """Orders with reservation-confirmation errors not resolved yet."""
    return int(session.scalar(_AFFECTED) or 0)


def top_failing_products(session: Session, *, limit: int = 5) -> list[dict[str, Any]]:
    """Skus in most affected orders, with the units short across them."""
    rows = session.execute(_TOP_PRODUCTS, {"limit": limit})
    return [
        {"sku": row.sku, "orders": row.orders, "units_short": int(row.units_short or 0)}
        for row in rows
    ]


def top_error_reasons(session: Session, *, limit: int = 5) -> list[dict[str, Any]]:
    """The most frequent confirmation errors of the affected orders."""
    rows = session.execute(_TOP_REASONS, {"limit": limit})
    return [{"reason": row.reason, "errors": row.errors} for row in rows]


def error_trend(
    session: Session, *, now: dt.datetime, days: int = TREND_DAYS
) -> list[dict[str, Any]]:
    """Per UTC day of the last ``days``: orders whose confirmation failed, and failures."""
    rows = session.execute(_TREND, {"now": now, "days": days})
    return [
        {"day": row.day.isoformat(), "orders": row.orders, "failures": row.failures} for row in rows
    ]
