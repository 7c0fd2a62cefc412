"""N paid orders whose webhooks were all dropped: how long until backfill has them paid.

Provisions a PostgreSQL database (migrated) and a Redis db of its own, starts the Stripe
sandbox in-process with one webhook endpoint and its ``drop`` switch on (100 % of the
webhooks are lost), places ``--orders`` orders with real PaymentIntents in the sandbox
and has each buyer pay. Then one ``backfill_stripe_events`` run (``jobs.backfill.run``,
what the periodic job does) stores the events and a real Dramatiq worker (8 threads,
queue ``webhooks``) applies them. Prints one JSON document: seconds from the start of
the run until every order is ``paid`` (the run itself, and the processing after it),
the Stripe API calls the run made (from the sandbox's request log), events listed and
stored. The wait for the next scheduled run (at most ``STRIPE_BACKFILL_INTERVAL_MINUTES``)
comes on top in production.

Run: ``.venv/bin/python bench/backfill.py [--orders 200]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devtools.stripe_sandbox import SandboxServer  # noqa: E402
from tests.support import services  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200)
    args = parser.parse_args()

    provisioned = services.provision()
    sandbox = SandboxServer(webhooks=[("http://127.0.0.1:9/", "whsec_bench")]).start()
    os.environ.update(
        DATABASE_URL=provisioned.database_url,
        REDIS_URL=provisioned.redis_url,
        STRIPE_API_BASE=sandbox.url,
        STRIPE_API_KEY="sk_test_bench",
        STRIPE_WEBHOOK_SECRET="whsec_bench",
        CARTFLEET_ENV="test",
        LOG_LEVEL="WARNING",
        SENTRY_DSN="",
        ALERT_WEBHOOK_URL="",
        dramatiq_prom_port="0",
    )
    try:
        print(json.dumps(measure(sandbox, args.orders), indent=2))
    finally:
        sandbox.stop()
        services.release(provisioned)


def measure(sandbox: SandboxServer, count: int) -> dict:
    from alembic import command

    from migrations import alembic_config
    from models import db

    command.upgrade(alembic_config(os.environ["DATABASE_URL"]), "head")
    db.configure(os.environ["DATABASE_URL"])
    import dramatiq
    from sqlalchemy import func, select

    import jobs  # noqa: F401  (registers every actor on the broker)
    from jobs import backfill
    from models.db import Session
    from models.orders.tables import Order
    from tests.support.sandbox_fleet import pay, place_order
    from worker.broker import broker

    broker.emit_after("process_boot")  # Dramatiq's Prometheus middleware sets up on boot
    sandbox.control.set_switches(drop=True)
    orders = [place_order(f"BENCH-{n}") for n in range(count)]
    for _, intent_id in orders:
        pay(intent_id)
    deliveries = sandbox.control.wait_for_deliveries(timeout=120)
    dropped = sum(1 for d in deliveries if d["status"] == "failed")
    sandbox.control.clear_requests()
    ids = [order_id for order_id, _ in orders]

    worker = dramatiq.Worker(broker, queues={"webhooks"}, worker_threads=8)
    worker.start()
    try:
        started = time.perf_counter()
        report = backfill.run()
        stored_at = time.perf_counter()
        while True:
            with Session() as session:
                paid = session.scalar(
                    select(func.count()).where(Order.id.in_(ids), Order.status == "paid")
                )
            if paid == count:
                break
            time.sleep(0.05)
        done = time.perf_counter()
    finally:
        worker.stop()
    calls = [r for r in sandbox.control.requests() if r["path"].startswith("/v1/")]
    return {
        "orders": count,
        "webhooks_dropped": dropped,
        "webhooks_total": len(deliveries),
        "seconds_until_all_paid": round(done - started, 3),
        "seconds_backfill_run": round(stored_at - started, 3),
        "seconds_processing_after_run": round(done - stored_at, 3),
        "stripe_api_calls": len(calls),
        "stripe_api_calls_by_path": {
            path: sum(1 for r in calls if r["path"] == path) for path in {r["path"] for r in calls}
        },
        "events_listed": report.listed,
        "events_stored": report.stored,
    }


if __name__ == "__main__":
    main()
