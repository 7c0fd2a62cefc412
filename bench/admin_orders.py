"""The admin's order list and CSV export over 100 000 orders, beside bare SQL baselines.

Provisions a PostgreSQL database of its own (migrated) and loads ``--orders`` orders
(created over the last year, seven statuses, two line items each). Then:

1. the list: each filter the admin offers, through the app's own query
   (``web.admin.order_query``: a page of 50 plus the match count), median of 20 runs,
   with the indexes PostgreSQL's plan uses; baseline: a bare
   ``SELECT * FROM orders ORDER BY created_at DESC LIMIT 51`` in the same run;
2. the CSV: ``GET /admin/api/orders.csv`` (and ``lines=true``) through the Flask app in a
   fresh child process, chunks consumed as they stream: rows/s and peak RSS, for a tenth
   of the orders and for all of them (flat memory: the two peaks match); baseline:
   ``COPY (SELECT …) TO STDOUT CSV`` of the same rows in a child process.

Prints one JSON document. Run: ``.venv/bin/python bench/admin_orders.py [--orders 100000]``
(needs PostgreSQL and Redis like the tests).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("ADMIN_TOKEN", "bench-admin-token")

import psycopg  # noqa: E402
from harness import drop_database, provision_database  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

RUNS = 20
LOAD_SQL = """
INSERT INTO products (sku, name, price_cents, currency) VALUES
  ('BENCH-A', 'Bench A', 1500, 'usd'), ('BENCH-B', 'Bench B', 2500, 'usd');
INSERT INTO orders (id, email, status, currency, subtotal_cents, discount_cents, total_cents,
                    refunded_cents, shipping_address, metadata, created_at, updated_at,
                    confirmation_attempts, needs_manual_reconciliation)
SELECT gen_random_uuid(), 'buyer' || g || '@example.com',
       (ARRAY['paid','paid','paid','shipped','shipped','pending_payment','canceled',
              'refunded','partially_refunded','payment_failed'])[1 + g % 10],
       'usd', 4000, 0, 1000 + (g * 7919) % 99000, 0,
       jsonb_build_object('name', 'Customer ' || g, 'line1', '1 Main St', 'city', 'Springfield',
                          'postal_code', '12345', 'country', 'US'),
       '{}'::jsonb, now() - (g * interval '1 second' * 31536000 / :n), now(), 0, false
FROM generate_series(1, :n) AS g;
INSERT INTO order_items (order_id, sku, name, quantity, unit_price_cents)
SELECT o.id, s.sku, s.sku, 1, 2000
FROM orders o CROSS JOIN (VALUES ('BENCH-A'), ('BENCH-B')) s(sku);
"""


def load(engine, orders: int) -> None:
    with engine.begin() as connection:
        for statement in LOAD_SQL.split(";"):
            if statement.strip():
                connection.execute(text(statement), {"n": orders})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE orders, order_items"))


def _indexes(plan: dict) -> set[str]:
    found = {plan["Index Name"]} if "Index Name" in plan else set()
    for child in plan.get("Plans", ()):
        found |= _indexes(child)
    return found


def _timed(engine, statement) -> tuple[float, set[str]]:
    compiled = statement.compile(engine, compile_kwargs={"literal_binds": True})
    with engine.connect() as connection:
        times = []
        for _ in range(RUNS):
            started = time.perf_counter()
            connection.execute(text(str(compiled))).all()
            times.append((time.perf_counter() - started) * 1000)
        plan = connection.execute(text(f"EXPLAIN (FORMAT JSON) {compiled}")).scalar()
    return round(statistics.median(times), 2), _indexes(plan[0]["Plan"])


def list_figures(engine, orders: int) -> dict:
    """The list's timings; the offsets scale with ``orders`` (at 100 000: 5 000, 40 000, 20 000)."""
    from web.admin.order_query import OrderFilters, count_query, page_query

    with engine.connect() as connection:
        number = connection.scalar(
            text("SELECT order_number FROM orders OFFSET :n LIMIT 1"), {"n": orders // 20}
        )
        older = connection.scalar(
            text("SELECT created_at FROM orders OFFSET :n LIMIT 1"), {"n": orders * 2 // 5}
        )
    scenarios = {
        "newest": {},
        "status_paid": {"status": "paid"},
        "status_and_date_range": {
            "status": "shipped",
            "from": older.replace(day=1).isoformat(),
            "to": older.isoformat(),
        },
        "date_range_total_sorted": {"from": older.isoformat(), "sort": "total_desc"},
        "order_number": {"order_number": number},
        "customer_substring": {"customer": "customer 4242"},
        "total_range": {"min_total": 5000, "max_total": 6000},
        "deep_cursor_page": {"cursor_after": orders // 5},
    }
    results = {}
    for name, query in scenarios.items():
        if "cursor_after" in query:
            filters = OrderFilters.model_validate({})
            from web.admin import order_query

            with engine.connect() as connection:
                row = connection.execute(
                    text(
                        "SELECT created_at, id FROM orders ORDER BY created_at DESC, id DESC "
                        "OFFSET :n LIMIT 1"
                    ),
                    {"n": query["cursor_after"]},
                ).one()
            cursor = order_query.cursors.encode("newest", row.created_at.isoformat(), str(row.id))
            filters = OrderFilters.model_validate({"cursor": cursor})
        else:
            filters = OrderFilters.model_validate(query)
        page_ms, page_indexes = _timed(engine, page_query(filters))
        count_ms, count_indexes = _timed(engine, count_query(filters))
        results[name] = {
            "page_ms": page_ms,
            "count_ms": count_ms,
            "indexes": sorted(page_indexes | count_indexes) or ["seq scan"],
        }
    with engine.connect() as connection:
        times = []
        for _ in range(RUNS):
            started = time.perf_counter()
            connection.execute(text("SELECT * FROM orders ORDER BY created_at DESC LIMIT 51")).all()
            times.append((time.perf_counter() - started) * 1000)
    return {
        "scenarios": results,
        "baseline_bare_select_page_ms": round(statistics.median(times), 2),
    }


CHILD_EXPORT = """
import json, os, sys, time
sys.path.insert(0, {root!r})
sys.path.insert(0, {root!r} + "/bench")
from harness import peak_rss_kb
from web import create_app
client = create_app({{"TESTING": True}}).test_client()
before = peak_rss_kb()
started = time.perf_counter()
response = client.get("/admin/api/orders.csv?" + {query!r},
                      headers={{"Authorization": "Bearer " + os.environ["ADMIN_TOKEN"]}},
                      buffered=False)
size = lines = 0
for chunk in response.response:
    size += len(chunk)
    lines += chunk.count(b"\\n") if isinstance(chunk, bytes) else chunk.count("\\n")
elapsed = time.perf_counter() - started
print(json.dumps({{"rows": lines - 1, "seconds": elapsed, "bytes": size,
                  "rss_before_kb": before,
                  "peak_rss_kb": peak_rss_kb()}}))
"""

CHILD_COPY = """
import json, sys, time
import psycopg
sys.path.insert(0, {root!r})
sys.path.insert(0, {root!r} + "/bench")
from harness import peak_rss_kb
before = peak_rss_kb()
started = time.perf_counter()
size = lines = 0
with psycopg.connect({dsn!r}) as connection, connection.cursor() as cursor:
    with cursor.copy({sql!r}) as copy:
        for chunk in copy:
            size += len(chunk)
            lines += bytes(chunk).count(b"\\n")
print(json.dumps({{"rows": lines, "seconds": time.perf_counter() - started, "bytes": size,
                  "rss_before_kb": before,
                  "peak_rss_kb": peak_rss_kb()}}))
"""


def _child(code: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=dict(os.environ), capture_output=True, text=True
    )
    if done.returncode:
        raise RuntimeError(f"the measuring child failed:\n{done.stderr}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures["rows_per_s"] = round(figures["rows"] / figures["seconds"])
    figures["seconds"] = round(figures["seconds"], 2)
    return figures


def csv_figures(url: str, orders: int) -> dict:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as connection:
        tenth = connection.execute(
            "SELECT created_at FROM orders ORDER BY created_at DESC OFFSET %s LIMIT 1",
            (orders // 10,),
        ).fetchone()[0]
    since = tenth.isoformat().replace("+", "%2B")
    copy_sql = (
        "COPY (SELECT order_number, created_at, status, email, shipping_address->>'name', "
        "currency, subtotal_cents, discount_cents, total_cents, refunded_cents, discount_code, "
        "payment_intent_id, paid_at, shipped_at, carrier, tracking_number FROM orders "
        "ORDER BY created_at DESC, id DESC) TO STDOUT WITH CSV"
    )
    return {
        "export_tenth": _child(CHILD_EXPORT.format(root=str(ROOT), query=f"from={since}")),
        "export_all": _child(CHILD_EXPORT.format(root=str(ROOT), query="")),
        "export_all_lines": _child(CHILD_EXPORT.format(root=str(ROOT), query="lines=true")),
        "baseline_copy_all": _child(CHILD_COPY.format(root=str(ROOT), dsn=dsn, sql=copy_sql)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    args = parser.parse_args()
    url, admin = provision_database("admin")
    os.environ["DATABASE_URL"] = url
    try:
        from alembic import command

        from migrations import alembic_config
        from models import db

        command.upgrade(alembic_config(url), "head")
        engine = db.configure(url)
        started = time.perf_counter()
        load(engine, args.orders)
        result = {
            "orders": args.orders,
            "load_seconds": round(time.perf_counter() - started, 1),
            "list": list_figures(engine, args.orders),
            "csv": csv_figures(url, args.orders),
        }
        engine.dispose()
    finally:
        drop_database(url, admin)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
