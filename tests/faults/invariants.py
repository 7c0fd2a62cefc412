"""The business outcomes every scenario must leave intact, read from the sources of truth.

``check()`` reads the database directly (not through a proxy), the sandbox's payment
intents and webhook deliveries, the SMTP server's inbox and Redis's dead-letter queues,
and returns one list of offending ids per invariant (empty lists: it holds).
``wait_until_held()`` polls it with a deadline and times the recovery.
"""

from __future__ import annotations

import collections
import contextlib
import re
import time

import psycopg
import redis
import requests

from tests.faults.cluster import STRIPE_KEY, Services
from tests.faults.fleet import CATALOGUE, STOCK

# The event types the fleet applies (jobs.stripe_payloads.OBJECTS, which this process may
# not import: the harness has no broker); tests/faults/test_invariants.py keeps them equal.
HANDLED_EVENT_TYPES = frozenset(
    {
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.canceled",
        "charge.refunded",
        "refund.created",
        "refund.updated",
    }
)

PAID_OR_LATER = ("paid", "partially_shipped", "shipped", "refunded", "partially_refunded")
# Units confirmed at payment stay sold through a refund: restocking is a warehouse call.
_SOLD = PAID_OR_LATER
# An order whose stock hold must be gone: payment_failed may still be paid with another card.
_FINISHED = "o.status NOT IN ('pending_payment', 'payment_failed')"
_CONFIRMATION_ID = re.compile(r"<order_confirmation\.([0-9a-f-]{36})@[^>]+>")


def _listed(sandbox_url: str, path: str) -> list[dict]:
    """Every object of a sandbox list endpoint (``/v1/payment_intents``), page by page."""
    items: list[dict] = []
    params: dict[str, str | int] = {"limit": 100}
    for _ in range(1000):
        page = requests.get(
            f"{sandbox_url}{path}",
            params=params,
            headers={"Authorization": f"Bearer {STRIPE_KEY}"},
            timeout=10,
        ).json()
        items += page["data"]
        if not page.get("has_more") or not page["data"]:
            break
        params["starting_after"] = page["data"][-1]["id"]
    return items


def succeeded_intents(sandbox_url: str) -> set[str]:
    """The ids of every PaymentIntent the sandbox holds as succeeded."""
    return {pi["id"] for pi in _listed(sandbox_url, "/v1/payment_intents")
            if pi["status"] == "succeeded"}  # fmt: skip


def _rows(db: psycopg.Connection, sql: str) -> list[tuple]:
    return db.execute(sql).fetchall()


def _ids(db: psycopg.Connection, sql: str) -> list[str]:
    return [str(key) for (key,) in _rows(db, sql)]


def _payments(db: psycopg.Connection, succeeded: set[str]) -> dict[str, list]:
    orders = _rows(db, "SELECT id::text, payment_intent_id, status FROM orders")
    paid_by_intent = collections.Counter(pi for _, pi, status in orders if status in PAID_OR_LATER)
    paid_twice = _rows(
        db,
        "SELECT order_id::text FROM order_events WHERE kind = 'status_changed' "
        "AND data->>'to' = 'paid' GROUP BY order_id HAVING count(*) > 1",
    )
    return {
        "lost_payments": sorted(pi for pi in succeeded if paid_by_intent[pi] == 0),
        "doubled_payments": sorted(pi for pi, n in paid_by_intent.items() if n > 1)
        + [order for (order,) in paid_twice],
        "paid_without_payment": sorted(
            order for order, pi, status in orders if status in PAID_OR_LATER and pi not in succeeded
        ),
    }


def _emails(db: psycopg.Connection, services: Services) -> dict[str, list]:
    received = collections.defaultdict(set)
    for message in list(services.smtp.messages):
        message_id = "".join(str(message["Message-ID"] or "").split())
        match = _CONFIRMATION_ID.fullmatch(message_id)
        if match:
            received[match[1]].add(message_id)
    statuses = dict(_rows(db, "SELECT id::text, status FROM orders"))
    paid = {order for order, status in statuses.items() if status in PAID_OR_LATER}
    return {
        "paid_orders_without_one_confirmation": sorted(o for o in paid if len(received[o]) != 1),
        "confirmations_for_unpaid_orders": sorted(o for o in received if o not in paid),
    }


def _stock(db: psycopg.Connection) -> dict[str, list]:
    on_hand = dict(_rows(db, "SELECT sku, sum(on_hand) FROM stock_levels GROUP BY sku"))
    sold = dict(
        _rows(
            db,
            "SELECT i.sku, sum(i.quantity) FROM order_items i JOIN orders o ON o.id = i.order_id "
            f"WHERE o.status IN {_SOLD} GROUP BY i.sku",
        )
    )
    # Per warehouse: what left a warehouse is what its confirmed reservations took.
    on_hand_at = {
        (sku, warehouse): units
        for sku, warehouse, units in _rows(db, "SELECT sku, warehouse, on_hand FROM stock_levels")
    }
    sold_from = {
        (sku, warehouse): units
        for sku, warehouse, units in _rows(
            db,
            "SELECT r.sku, r.warehouse, sum(r.quantity) FROM reservations r "
            "JOIN orders o ON o.id = r.order_id "
            f"WHERE r.status = 'confirmed' AND o.status IN {_SOLD} GROUP BY r.sku, r.warehouse",
        )
    }
    seeded_at = {(sku, w): units for sku, split in STOCK.items() for w, units in split.items()}
    stale = _rows(
        db,
        "SELECT DISTINCT r.order_id::text FROM reservations r JOIN orders o ON o.id = r.order_id "
        f"WHERE r.status = 'active' AND {_FINISHED}",
    )
    return {
        "stock_not_conserved": sorted(
            f"{sku}: on hand {on_hand.get(sku, 0)} + sold {sold.get(sku, 0)} != {units}"
            for sku, (_, units) in CATALOGUE.items()
            if on_hand.get(sku, 0) + sold.get(sku, 0) != units
        ),
        "stock_not_conserved_per_warehouse": sorted(
            f"{sku}@{w}: on hand {on_hand_at.get((sku, w), 0)} + sold {sold_from.get((sku, w), 0)}"
            f" != {units}"
            for (sku, w), units in seeded_at.items()
            if on_hand_at.get((sku, w), 0) + sold_from.get((sku, w), 0) != units
        ),
        "oversold": sorted(
            sku for sku, (_, units) in CATALOGUE.items() if sold.get(sku, 0) > units
        ),
        "oversold_per_warehouse": sorted(
            f"{sku}@{w}"
            for (sku, w), units in seeded_at.items()
            if sold_from.get((sku, w), 0) > units
        ),
        "live_reservations_of_finished_orders": [order for (order,) in stale],
    }


def _pipeline(db: psycopg.Connection, services: Services) -> dict[str, list]:
    client = redis.Redis(port=services.redis.port, socket_timeout=5)
    dead_letters = sorted(k.decode() for k in client.scan_iter("dramatiq:*.XQ") if client.zcard(k))
    client.close()
    dead = _rows(
        db,
        "SELECT 'webhook ' || id || ': ' || coalesce(last_error, '') FROM webhook_events "
        "WHERE status IN ('dead', 'failed') UNION ALL "
        "SELECT 'email ' || id || ': ' || coalesce(last_error, '') FROM emails "
        "WHERE status = 'dead'",
    )
    return {
        "outbox_unsent": _ids(db, "SELECT id FROM outbox WHERE sent_at IS NULL"),
        "inbox_received": _ids(db, "SELECT id FROM webhook_events WHERE status = 'received'"),
        "emails_unsent": _ids(db, "SELECT id FROM emails WHERE status NOT IN ('sent', 'dead')"),
        "dead_letters": dead_letters + [d for (d,) in dead],
    }


def _webhooks(db: psycopg.Connection, services: Services) -> dict[str, list]:
    stored = dict(_rows(db, "SELECT id, status FROM webhook_events"))
    deliveries = services.sandbox.control.deliveries()
    return {
        "deliveries_pending": sorted(d["event"] for d in deliveries if d["status"] == "pending"),
        # Stripe gives a delivery up after its retries; an event the fleet handles must
        # still be applied (the backfill's job), else it is lost.
        "deliveries_given_up_not_applied": sorted(
            d["event"]
            for d in deliveries
            if d["status"] == "failed"
            and d["type"] in HANDLED_EVENT_TYPES
            and stored.get(d["event"]) not in ("processed", "ignored")
        ),
        "answered_503_not_applied": sorted(
            d["event"]
            for d in deliveries
            if any(a["status"] == 503 for a in d["attempts"])
            and stored.get(d["event"]) not in ("processed", "ignored")
        ),
    }


def _refunds(db: psycopg.Connection, services: Services) -> dict[str, list]:
    made = [r for r in _listed(services.sandbox.url, "/v1/refunds") if r["status"] == "succeeded"]
    rows = _rows(db, "SELECT id, status, stripe_refund_id FROM refunds")
    recorded = collections.Counter(stripe_id for _, _, stripe_id in rows if stripe_id)
    refunded_at_stripe = collections.Counter()
    for refund in made:
        refunded_at_stripe[refund["payment_intent"]] += refund["amount"]
    orders = _rows(
        db, "SELECT id::text, payment_intent_id, status, refunded_cents, total_cents FROM orders"
    )
    return {
        # The load asks only for refunds Stripe grants: pending is unfinished, failed is wrong.
        "refunds_not_succeeded": [str(key) for key, status, _ in rows if status != "succeeded"],
        # Stripe made it, yet no refund row names it: a refund made twice for one request.
        "refunds_at_stripe_not_recorded": sorted(r["id"] for r in made if not recorded[r["id"]]),
        "refunds_recorded_twice": sorted(key for key, n in recorded.items() if n > 1),
        "refunded_cents_differ_from_stripe": sorted(
            order for order, intent, _, cents, _ in orders if cents != refunded_at_stripe[intent]
        ),
        "refund_status_wrong": sorted(
            order
            for order, _, status, cents, total in orders
            if (cents == total and cents and status != "refunded")
            or (0 < cents < total and status != "partially_refunded")
        ),
    }


def check(services: Services) -> dict[str, list]:
    """Every invariant with the ids that break it (an empty list: it holds)."""
    succeeded = succeeded_intents(services.sandbox.url)
    with psycopg.connect(services.postgres.url, autocommit=True, connect_timeout=5) as db:
        return {
            **_payments(db, succeeded),
            **_emails(db, services),
            **_stock(db),
            **_pipeline(db, services),
            **_webhooks(db, services),
            **_refunds(db, services),
        }


def broken(result: dict[str, list]) -> dict[str, list]:
    return {name: ids for name, ids in result.items() if ids}


def wait_until_held(services: Services, *, since: float, timeout: float) -> dict:
    """Poll ``check`` until every invariant holds or ``timeout`` passes.

    Returns ``{"held", "recovery_s", "broken"}``: ``recovery_s`` counts from ``since``
    (the fault's end, ``time.monotonic()``); ``broken`` names the ids still offending.
    """
    started = time.monotonic()
    result: dict[str, list] = {"unchecked": ["no check completed"]}
    for _ in range(10_000):
        with contextlib.suppress(psycopg.Error, redis.RedisError, requests.RequestException):
            result = check(services)
            if not broken(result):
                return {
                    "held": True,
                    "recovery_s": round(time.monotonic() - since, 1),
                    "broken": {},
                }
        if time.monotonic() - started > timeout:
            break
        time.sleep(2)
    return {"held": False, "recovery_s": None, "broken": broken(result)}


def counts(result: dict) -> dict[str, int]:
    """The table's columns: lost, doubled, oversold (0 when the invariants held)."""
    failing = result["broken"]
    return {
        "lost": len(failing.get("lost_payments", [])),
        "doubled": len(failing.get("doubled_payments", [])),
        "oversold": len(failing.get("oversold", [])),
    }
