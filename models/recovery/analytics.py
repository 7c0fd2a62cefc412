"""The cart funnel and the recovery figures over a period, from the recorded rows.

Funnel: the carts created in ``[start, end)`` (their ``created`` cart event) and how
far each got, by its cart events (``item_added``, ``checkout_started``) and by its
orders (payment succeeded: an order of the cart with ``paid_at``). Recovery: the
reminders sent in the period (step rows), the orders they recovered (a paid order of a
reminded cart placed after a reminder, attributed to the last reminder before it) and
the unsubscribes. Each figure is one statement; nothing is stored.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from models.orders.status import CAPTURED
from models.recovery.tables import StepName

FUNNEL_STEPS = ("cart_created", "item_added", "checkout_started", "payment_succeeded")
TOP_PRODUCTS = 10

_COHORT = """
WITH cohort AS (
    SELECT DISTINCT cart_id FROM cart_events
    WHERE kind = 'created' AND at >= :start AND at < :end
),
reached AS (
    SELECT c.cart_id,
        EXISTS (SELECT 1 FROM cart_events e
                WHERE e.cart_id = c.cart_id AND e.kind = 'item_added') AS added,
        (SELECT min(e.at) FROM cart_events e
         WHERE e.cart_id = c.cart_id AND e.kind = 'checkout_started') AS started_at,
        (SELECT min(o.paid_at) FROM orders o WHERE o.cart_id = c.cart_id) AS paid_at
    FROM cohort c
)
"""

_FUNNEL = text(
    _COHORT
    + """
SELECT count(*) AS cart_created,
       count(*) FILTER (WHERE added) AS item_added,
       count(*) FILTER (WHERE started_at IS NOT NULL) AS checkout_started,
       count(*) FILTER (WHERE paid_at IS NOT NULL) AS payment_succeeded,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM paid_at - started_at))
           FILTER (WHERE paid_at >= started_at) AS p50,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM paid_at - started_at))
           FILTER (WHERE paid_at >= started_at) AS p90,
       (SELECT avg(o.subtotal_cents) FROM orders o JOIN cohort c ON c.cart_id = o.cart_id)
           AS average_cart_value
FROM reached
"""
)

_ABANDONED_PRODUCTS = text(
    _COHORT
    + """
SELECT e.sku, p.name, count(DISTINCT e.cart_id) AS carts
FROM reached r
JOIN cart_events e ON e.cart_id = r.cart_id AND e.kind = 'item_added'
LEFT JOIN products p ON p.sku = e.sku
WHERE r.paid_at IS NULL AND e.sku IS NOT NULL
GROUP BY e.sku, p.name
ORDER BY carts DESC, e.sku
LIMIT :top
"""
)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def funnel(session: Session, *, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    window = {"start": start, "end": end}
    row = session.execute(_FUNNEL, window).one()
    counts = [getattr(row, name) for name in FUNNEL_STEPS]
    steps = [
        {
            "step": name,
            "count": count,
            # Of the carts that reached the step before, the share that went no further.
            "abandonment_rate": None
            if index == 0
            else _rate(counts[index - 1] - count, counts[index - 1]),
        }
        for index, (name, count) in enumerate(zip(FUNNEL_STEPS, counts, strict=True))
    ]
    products = session.execute(_ABANDONED_PRODUCTS, {**window, "top": TOP_PRODUCTS}).all()
    return {
        "steps": steps,
        "average_cart_value_cents": None
        if row.average_cart_value is None
        else round(row.average_cart_value),
        "most_abandoned_products": [
            {"sku": sku, "name": name, "carts": carts} for sku, name, carts in products
        ],
        "checkout_completion_seconds": {
            "p50": None if row.p50 is None else round(row.p50, 1),
            "p90": None if row.p90 is None else round(row.p90, 1),
        },
    }


_REMINDERS = text(
    """
SELECT step, count(*) AS sent, coalesce(sum(clicks), 0) AS clicks,
       count(*) FILTER (WHERE clicked_at IS NOT NULL) AS clicked
FROM recovery_steps
WHERE status = 'sent' AND step <> :abandon AND sent_at >= :start AND sent_at < :end
GROUP BY step
"""
)

_REMINDED_CARTS = text(
    """
SELECT count(DISTINCT cart_id) FROM recovery_steps
WHERE status = 'sent' AND step <> :abandon AND sent_at >= :start AND sent_at < :end
"""
)

# Each paid order of a reminded cart goes to the last reminder sent before it was placed.
_RECOVERED = text(
    """
WITH attributed AS (
    SELECT DISTINCT ON (o.id) o.id, o.cart_id, o.currency, o.total_cents, o.discount_cents,
           s.step, s.sent_at,
           o.discount_code IN (SELECT r.discount_code FROM recovery_steps r
                               WHERE r.cart_id = o.cart_id) AS recovery_code
    FROM orders o
    JOIN recovery_steps s ON s.cart_id = o.cart_id AND s.status = 'sent'
         AND s.step <> :abandon AND s.sent_at < o.created_at
    WHERE o.status = ANY(:captured)
    ORDER BY o.id, s.sent_at DESC
)
SELECT step, currency, count(DISTINCT cart_id) AS carts, sum(total_cents) AS revenue,
       coalesce(sum(discount_cents) FILTER (WHERE recovery_code), 0) AS discount
FROM attributed
WHERE sent_at >= :start AND sent_at < :end
GROUP BY step, currency
"""
)

_UNSUBSCRIBES = text(
    "SELECT count(*) FROM recovery_suppressions WHERE created_at >= :start AND created_at < :end"
)


def recovery(session: Session, *, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    params = {
        "start": start,
        "end": end,
        "abandon": StepName.ABANDON.value,
        "captured": [status.value for status in CAPTURED],
    }
    message_steps = [step.value for step in StepName if step != StepName.ABANDON]
    sent = {step: {"sent": 0, "clicks": 0, "clicked": 0, "recovered": 0} for step in message_steps}
    for row in session.execute(_REMINDERS, params):
        sent[row.step].update(sent=row.sent, clicks=row.clicks, clicked=row.clicked)
    revenue: dict[str, int] = {}
    discount: dict[str, int] = {}
    recovered = 0
    for row in session.execute(_RECOVERED, params):
        sent[row.step]["recovered"] += row.carts
        recovered += row.carts
        revenue[row.currency] = revenue.get(row.currency, 0) + row.revenue
        discount[row.currency] = discount.get(row.currency, 0) + row.discount
    reminded = session.scalar(_REMINDED_CARTS, params)
    return {
        "reminders_sent": {step: figures["sent"] for step, figures in sent.items()},
        "clicks": sum(figures["clicks"] for figures in sent.values()),
        "clicks_by_step": {step: figures["clicks"] for step, figures in sent.items()},
        "carts_reminded": reminded,
        "carts_recovered": recovered,
        "carts_recovered_by_step": {step: figures["recovered"] for step, figures in sent.items()},
        "recovery_rate": _rate(recovered, reminded),
        "revenue_recovered_cents": revenue,
        "discount_given_cents": discount,
        "unsubscribes": session.scalar(_UNSUBSCRIBES, params),
    }
