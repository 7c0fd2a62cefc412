"""The abandoned-cart recovery job over 1,000,000 carts, 1 % of them due a step.

Provisions a database and a Redis db of its own (like the test run), migrates, and
bulk-loads ``--carts`` carts: 1 % due (40 % the 2 h email, 30 % the 24 h push, 20 % the
72 h email, 10 % the 7-day abandon, each with the rows of the steps before), 23 %
active between 2.5 h and 7 days old whose current step is already done (what every run
must look at and pass over), 20 % active in the last 2 hours, the rest completed with
their paid orders. Then runs the job's own batches (jobs.recovery.recovery_batches: one
transaction per batch, each send enqueued through the outbox) timing every transaction,
runs it a second time (nothing may be claimed), and prints one JSON document: seconds,
carts scanned per second, the longest transaction, and the index use of the claim's
query plan (EXPLAIN ANALYZE of its first batch).

Run: ``.venv/bin/python bench/recovery.py [--carts 1000000]``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LOG_LEVEL", "WARNING")

from sqlalchemy import event, text  # noqa: E402

DUE_SHARE = 0.01
RECENT_SHARE = 0.20
# Of the due carts: (share, hours inactive, steps already done before the due one).
DUE_MIX = (
    (0.4, 3, ()),
    (0.3, 25, ("email_1",)),
    (0.2, 73, ("email_1", "push")),
    (0.1, 8 * 24, ("email_1", "push", "email_2")),
)

CARTS = """
INSERT INTO carts (id, status, version, currency, email, marketing_consent_at, metadata,
                   created_at, last_activity_at, expires_at)
SELECT :prefix || g, :status, 1, 'usd', 'c' || g || '@example.com', now(), '{}'::jsonb,
       now() - interval '30 days',
       now() - make_interval(secs => :low_h * 3600 + random() * (:high_h - :low_h) * 3600),
       now() + interval '20 days'
FROM generate_series(1, :n) AS g
"""
DONE_STEPS = """
INSERT INTO recovery_steps (cart_id, step, status, due_at, claimed_at, sent_at)
SELECT id, :step, 'sent', last_activity_at, now(), now() FROM carts WHERE id LIKE :prefix
"""
# Carts past a step they already got: (share of all carts, hours inactive, the step).
HANDLED_MIX = ((0.08, (2.5, 23), "email_1"), (0.08, (25, 71), "push"), (0.07, (73, 167), "email_2"))


def load(engine, carts: int) -> int:
    """The carts of the module docstring; returns how many are due."""
    from models.catalog import upsert_product
    from models.db import Session

    with Session.begin() as session:
        upsert_product(session, sku="BENCH-A", name="Bench A", price_cents=1000, stock={"main": 10})
    due = int(carts * DUE_SHARE)
    groups = [
        (f"due{index}-", "active", int(due * share), hours, hours + 0.5, done)
        for index, (share, hours, done) in enumerate(DUE_MIX)
    ]
    groups += [
        (f"handled{index}-", "active", int(carts * share), low, high, (step,))
        for index, (share, (low, high), step) in enumerate(HANDLED_MIX)
    ]
    groups.append(("recent-", "active", int(carts * RECENT_SHARE), 0, 1.9, ()))
    rest = carts - sum(group[2] for group in groups)
    groups.append(("done-", "completed", rest, 0, 30 * 24, ()))
    with engine.begin() as connection:
        connection.execute(text("SELECT setseed(0.42)"))
        for prefix, status, n, low, high, done in groups:
            params = {"prefix": prefix, "status": status, "n": n, "low_h": low, "high_h": high}
            connection.execute(text(CARTS), params)
            for step in done:
                connection.execute(text(DONE_STEPS), {"step": step, "prefix": f"{prefix}%"})
        # The completed carts' paid orders (the claim's "not ordered" check reads orders).
        connection.execute(
            text(
                "INSERT INTO orders (id, cart_id, email, status, currency, subtotal_cents, "
                "discount_cents, total_cents, refunded_cents, shipping_address, metadata, "
                "paid_at) SELECT gen_random_uuid(), id, email, 'paid', 'usd', 1000, 0, 1000, 0, "
                "'{}'::jsonb, '{}'::jsonb, last_activity_at FROM carts WHERE status = 'completed'"
            )
        )
        connection.execute(
            text(
                "INSERT INTO cart_items (cart_id, sku, quantity, unit_price_cents, version) "
                "SELECT id, 'BENCH-A', 1, 1000, 1 FROM carts WHERE status = 'active'"
            )
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE carts, cart_items, recovery_steps, orders"))
    return sum(group[2] for group in groups if group[0].startswith("due"))


class TransactionTimer:
    """Every transaction of the engine, BEGIN to COMMIT/ROLLBACK, in seconds."""

    def __init__(self, engine) -> None:
        self.durations: list[float] = []
        self._open: dict[int, float] = {}
        event.listen(engine, "begin", self._begin)
        event.listen(engine, "commit", self._end)
        event.listen(engine, "rollback", self._end)

    def _begin(self, connection) -> None:
        self._open[id(connection)] = time.perf_counter()

    def _end(self, connection) -> None:
        started = self._open.pop(id(connection), None)
        if started is not None:
            self.durations.append(time.perf_counter() - started)


def _plan_nodes(node: dict) -> list[dict]:
    return [node, *(n for child in node.get("Plans", ()) for n in _plan_nodes(child))]


def _explain(connection, engine, statement) -> dict:
    compiled = statement.compile(engine, compile_kwargs={"literal_binds": True})
    [[plan]] = connection.execute(text(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {compiled}"))
    nodes = _plan_nodes(plan[0]["Plan"])
    scans = [
        {"node": n["Node Type"], "relation": n.get("Relation Name"), "index": n.get("Index Name")}
        for n in nodes
        if "Scan" in n["Node Type"]
    ]
    return {
        "execution_ms": round(plan[0]["Execution Time"], 1),
        "scans": [dict(s) for s in {tuple(s.items()): s for s in scans}.values()],
        "sequential_scans": sorted({s["relation"] for s in scans if s["node"] == "Seq Scan"}),
    }


def explain(engine, now) -> dict:
    """EXPLAIN ANALYZE of the first batch's two statements (rolled back)."""
    from jobs.recovery import SCAN_PER_BATCH, current_policy
    from models.recovery.schedule import due_carts, scan_end
    from services.settings import get_settings

    policy = current_policy()
    with engine.connect() as connection:
        end = scan_end(now=now, policy=policy, scan=SCAN_PER_BATCH)
        upto = tuple(connection.execute(end).first())
        claim = due_carts(
            now=now, policy=policy, limit=get_settings().recovery_batch_size, upto=upto
        )
        plans = {
            "scan_end": _explain(connection, engine, end),
            "claim": _explain(connection, engine, claim),
        }
        connection.rollback()
    return plans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--carts", type=int, default=1_000_000)
    args = parser.parse_args()

    from tests.support import services

    provisioned = services.provision()
    os.environ.update(
        DATABASE_URL=provisioned.database_url,
        REDIS_URL=provisioned.redis_url,
        CARTFLEET_ENV="test",
        SENTRY_DSN="",
    )
    try:
        from alembic import command

        import jobs  # noqa: F401  (the broker and every actor)
        from jobs.recovery import recovery_batches
        from migrations import alembic_config
        from models import db
        from models.base import utcnow

        command.upgrade(alembic_config(provisioned.database_url), "head")
        engine = db.configure(provisioned.database_url)
        started = time.perf_counter()
        due = load(engine, args.carts)
        load_seconds = time.perf_counter() - started
        now = utcnow()
        with engine.connect() as connection:
            in_range = connection.scalar(
                text(
                    "SELECT count(*) FROM carts WHERE status = 'active' "
                    "AND last_activity_at <= CAST(:cutoff AS timestamptz)"
                ),
                {"cutoff": (now - dt.timedelta(hours=2)).isoformat()},
            )
        plan = explain(engine, now)

        timer = TransactionTimer(engine)
        started = time.perf_counter()
        batches, batch_seconds, mark = [], [], time.perf_counter()
        for batch in recovery_batches(now=now, budget_s=3600):
            batches.append(batch)
            batch_seconds.append(time.perf_counter() - mark)
            mark = time.perf_counter()
        seconds = time.perf_counter() - started
        claimed = sum(len(b.to_send) + len(b.abandoned) + b.skipped for b in batches)
        scanned = sum(b.carts for b in batches)
        durations = sorted(timer.durations)
        again = sum(len(b.to_send) + len(b.abandoned) for b in recovery_batches(now=now))

        result = {
            "carts": args.carts,
            "due": due,
            "active_carts_older_than_2h": in_range,
            "load_seconds": round(load_seconds, 1),
            "run": {
                "seconds": round(seconds, 3),
                "batches": len(batches),
                "carts_claimed": scanned,
                "steps_claimed": claimed,
                "carts_scanned_per_s": round(in_range / seconds),
                "longest_transaction_s": round(durations[-1], 4),
                "p50_transaction_s": round(durations[len(durations) // 2], 4),
                "slowest_batches": [
                    {
                        "seconds": round(spent, 3),
                        "sends": len(batch.to_send),
                        "abandoned": len(batch.abandoned),
                        "skipped": batch.skipped,
                    }
                    for spent, batch in sorted(
                        zip(batch_seconds, batches, strict=True), key=lambda pair: -pair[0]
                    )[:3]
                ],
            },
            "second_run_steps_claimed": again,
            "plans": plan,
            "targets": {
                "no_transaction_over_1s": durations[-1] < 1.0,
                "every_due_cart_claimed_once": scanned == due and again == 0,
            },
        }
        print(json.dumps(result, indent=2))
    finally:
        from models import db
        from services import outbox

        outbox.sent_marks.flush()  # now, while the database still exists
        with contextlib.suppress(RuntimeError):
            db.engine().dispose()
        services.release(provisioned)


if __name__ == "__main__":
    main()
