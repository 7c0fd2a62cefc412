"""The expired-session purge beside one plain DELETE, with live cart writes running.

Provisions a PostgreSQL database of its own (migrated), bulk-loads ``--carts`` expired carts
(three items each, expired 8 to 38 days ago, in random heap order), 10,000 live carts and
100 expired carts that orders still refer to (which must survive). Then, on identical
freshly loaded data, runs:

1. the job's own batched purge (jobs.carts.purge_batches, one transaction per batch),
2. one plain ``DELETE`` of the same rows in a single transaction,

while a separate process (as the web would be) keeps writing live carts from two threads
through models.edits.set_quantity (the cart API's write path: row lock, stock check, item
and cart update), recording each write's latency. Prints one JSON document: seconds,
rows/s, longest purge transaction, live write p50/p99 per phase, and the targets.

Run: ``.venv/bin/python bench/purge.py [--carts 1000000]`` (no Redis needed).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import random
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# The job module builds the fleet's broker at import; the purge never talks to Redis.
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ.setdefault("LOG_LEVEL", "WARNING")

from harness import drop_database, provision_database  # noqa: E402
from sqlalchemy import event, text  # noqa: E402

LIVE_CARTS = 10_000
KEPT_CARTS = 100
SKUS = ("BENCH-A", "BENCH-B", "BENCH-C")
WRITERS = 2
WRITER_PAUSE_S = 0.005
BASELINE_S = 3.0


def load(engine, carts: int) -> None:
    """Fresh tables: expired carts, live carts, and expired carts orders still refer to."""
    from models.carts.tables import Cart
    from models.catalog import upsert_product
    from models.db import Session
    from models.orders.tables import Order

    with Session.begin() as session:
        for sku in SKUS:
            upsert_product(session, sku=sku, name=sku, price_cents=1000, stock={"main": 10**6})
    with engine.begin() as connection:
        connection.execute(text("TRUNCATE carts, cart_items, cart_events, orders CASCADE"))
        connection.execute(text("SELECT setseed(0.42)"))
        connection.execute(
            text(
                """
                INSERT INTO carts (id, status, version, currency, metadata,
                                   created_at, last_activity_at, expires_at)
                SELECT 'exp-' || g, 'abandoned', 1, 'usd', '{}'::jsonb,
                       now() - interval '60 days', now() - interval '60 days',
                       now() - interval '8 days' - random() * interval '30 days'
                FROM generate_series(1, :n) AS g
                UNION ALL
                SELECT 'live-' || g, 'active', 1, 'usd', '{}'::jsonb,
                       now(), now(), now() + interval '30 days'
                FROM generate_series(1, :live) AS g
                """
            ),
            {"n": carts, "live": LIVE_CARTS},
        )
        connection.execute(
            text(
                """
                INSERT INTO cart_items (cart_id, sku, quantity, unit_price_cents, version,
                                        added_at)
                SELECT c.id, s.sku, 1, 1000, 1, c.created_at
                FROM carts AS c CROSS JOIN unnest(CAST(:skus AS text[])) AS s(sku)
                """
            ),
            {"skus": list(SKUS)},
        )
    with Session.begin() as session:
        for number in range(KEPT_CARTS):
            order = Order(
                id=uuid.uuid4(),
                email="kept@example.com",
                currency="usd",
                subtotal_cents=1000,
                total_cents=1000,
                shipping_address={"name": "Kept"},
                cart_id=f"exp-{number + 1}",
            )
            session.add(order)
            session.flush()
            session.get(Cart, f"exp-{number + 1}").order_id = order.id
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE carts, cart_items, orders"))


def counts(engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table: connection.scalar(text(f"SELECT count(*) FROM {table}"))
            for table in ("carts", "cart_items")
        }


def _write_live_carts(url: str, seed: int, stop, results) -> None:
    """One writer thread's loop, in the writer process: (wall time, latency, ok) per write."""
    from models.carts.edits import set_quantity
    from models.carts.reads import StockPolicy
    from models.db import Session

    rng = random.Random(seed)
    policy = StockPolicy()
    records = []
    while not stop.is_set():
        started_at, started = time.time(), time.perf_counter()
        try:
            with Session.begin() as session:
                set_quantity(
                    session,
                    cart_id=f"live-{rng.randint(1, LIVE_CARTS)}",
                    sku=rng.choice(SKUS),
                    quantity=rng.randint(1, 5),
                    policy=policy,
                )
            ok = True
        except Exception:
            ok = False  # only while the tables are reloaded between phases
        records.append((started_at, time.perf_counter() - started, ok))
        time.sleep(WRITER_PAUSE_S)
    results.extend(records)


def _writer_process(url: str, stop, queue) -> None:
    from models import db

    db.configure(url)
    results: list = []
    threads = [
        threading.Thread(target=_write_live_carts, args=(url, seed, stop, results))
        for seed in range(WRITERS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.put(results)


class LiveWriters:
    """Cart writes from a process of their own, as the web process would send them.

    Phases are wall-clock windows; each write is filed under the window it started in.
    """

    def __init__(self, url: str) -> None:
        context = multiprocessing.get_context("spawn")
        self._stop = context.Event()
        self._queue = context.Queue()
        self._process = context.Process(target=_writer_process, args=(url, self._stop, self._queue))
        self.windows: dict[str, tuple[float, float]] = {}
        self.records: list[tuple[float, float, bool]] = []

    def start(self) -> LiveWriters:
        self._process.start()
        return self

    @contextlib.contextmanager
    def phase(self, name: str):
        started = time.time()
        try:
            yield
        finally:
            self.windows[name] = (started, time.time())

    def stop(self) -> None:
        self._stop.set()
        self.records = self._queue.get(timeout=60)
        self._process.join(timeout=30)

    def summary(self, name: str) -> dict[str, float]:
        start, end = self.windows[name]
        chosen = [r for r in self.records if start <= r[0] < end]
        values = sorted(latency for _, latency, ok in chosen if ok)
        if not values:
            return {"writes": 0}
        return {
            "writes": len(values),
            "errors": sum(1 for _, _, ok in chosen if not ok),
            "p50_ms": round(statistics.median(values) * 1000, 2),
            "p99_ms": round(values[min(len(values) - 1, int(len(values) * 0.99))] * 1000, 2),
            "max_ms": round(values[-1] * 1000, 2),
        }


class TransactionTimer:
    """Times every transaction of this process's engine, from BEGIN to COMMIT/ROLLBACK."""

    def __init__(self, engine) -> None:
        self.durations: dict[str, list[float]] = {"commit": [], "rollback": []}
        self._open: dict[int, float] = {}
        self.engine = engine
        event.listen(engine, "begin", self._begin)
        event.listen(engine, "commit", self._commit)
        event.listen(engine, "rollback", self._rollback)

    def _begin(self, connection) -> None:
        self._open[id(connection)] = time.perf_counter()

    def _end(self, connection, kind: str) -> None:
        started = self._open.pop(id(connection), None)
        if started is not None:
            self.durations[kind].append(time.perf_counter() - started)

    def _commit(self, connection) -> None:
        self._end(connection, "commit")

    def _rollback(self, connection) -> None:
        self._end(connection, "rollback")

    def close(self) -> None:
        event.remove(self.engine, "begin", self._begin)
        event.remove(self.engine, "commit", self._commit)
        event.remove(self.engine, "rollback", self._rollback)


def batched_purge(engine, batch_size: int) -> dict[str, float]:
    from jobs.carts import purge_batches

    timer = TransactionTimer(engine)
    batches, carts = 0, 0
    started = time.perf_counter()
    try:
        for deleted in purge_batches(batch_size=batch_size, budget_s=float("inf")):
            batches, carts = batches + 1, carts + deleted
    finally:
        timer.close()
    deletes, reads = timer.durations["commit"], timer.durations["rollback"]
    return {
        "seconds": time.perf_counter() - started,
        "carts": carts,
        "delete_transactions": batches,
        "longest_transaction_s": max(deletes + reads),
        "longest_delete_transaction_s": max(deletes),
        "median_delete_transaction_s": statistics.median(deletes),
        "candidate_reads": len(reads),
        "longest_candidate_read_s": max(reads),
    }


def plain_delete(engine) -> dict[str, float]:
    started = time.perf_counter()
    with engine.begin() as connection:
        carts = connection.execute(
            text(
                """
                DELETE FROM carts
                WHERE expires_at < now() - interval '7 days'
                  AND order_id IS NULL
                  AND NOT EXISTS (SELECT 1 FROM orders WHERE orders.cart_id = carts.id)
                """
            )
        ).rowcount
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "carts": carts, "longest_transaction_s": seconds}


def measure(engine, writers: LiveWriters, name: str, run) -> dict[str, float]:
    before = counts(engine)
    with writers.phase(name):
        result = run()
    after = counts(engine)
    rows = sum(before.values()) - sum(after.values())
    result.update(rows=rows, rows_per_s=round(rows / result["seconds"]))
    result.update(carts_left=after["carts"])
    return {
        key: round(value, 4) if isinstance(value, float) else value for key, value in result.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--carts", type=int, default=1_000_000, help="expired carts to purge")
    parser.add_argument("--batch", type=int, default=None, help="carts per purge transaction")
    args = parser.parse_args()

    url, admin = provision_database("purge")
    os.environ["DATABASE_URL"] = url
    try:
        from alembic import command

        from jobs.carts import PURGE_BATCH_CARTS
        from migrations import alembic_config
        from models import db

        command.upgrade(alembic_config(url), "head")
        engine = db.configure(url)
        batch = args.batch or PURGE_BATCH_CARTS

        load_started = time.perf_counter()
        load(engine, args.carts)
        load_seconds = time.perf_counter() - load_started
        writers = LiveWriters(url).start()
        try:
            time.sleep(1)  # the writer process starts up
            with writers.phase("baseline"):
                time.sleep(BASELINE_S)
            purge = measure(engine, writers, "purge", lambda: batched_purge(engine, batch))
            load(engine, args.carts)
            delete = measure(engine, writers, "plain_delete", lambda: plain_delete(engine))
        finally:
            writers.stop()

        expected_left = LIVE_CARTS + KEPT_CARTS
        result = {
            "expired_carts": args.carts,
            "items_per_cart": len(SKUS),
            "rows_to_delete": args.carts * (1 + len(SKUS)) - KEPT_CARTS * (1 + len(SKUS)),
            "batch_carts": batch,
            "load_seconds": round(load_seconds, 1),
            "purge": purge,
            "plain_delete": delete,
            "purge_to_plain_delete_ratio": round(purge["seconds"] / delete["seconds"], 2),
            "live_cart_writes": {
                "baseline": writers.summary("baseline"),
                "during_purge": writers.summary("purge"),
                "during_plain_delete": writers.summary("plain_delete"),
            },
            "targets": {
                "no_transaction_over_1s": purge["longest_transaction_s"] < 1.0,
                "within_2x_plain_delete": purge["seconds"] <= 2 * delete["seconds"],
                "live_write_p99_under_100ms": writers.summary("purge").get("p99_ms", 0) < 100,
                "kept_and_live_carts_intact": purge["carts_left"] == expected_left
                and delete["carts_left"] == expected_left,
            },
        }
        print(json.dumps(result, indent=2))
    finally:
        from models import db

        with contextlib.suppress(RuntimeError):
            db.engine().dispose()
        drop_database(url, admin)


if __name__ == "__main__":
    main()
