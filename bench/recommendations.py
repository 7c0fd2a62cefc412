"""Recommendations: quality against popularity, rebuild time, lookup latency, in one run.

Provisions a PostgreSQL database of its own (migrated) and loads by COPY an order history
with the structure of a real shop: product popularity follows a power law (Zipf), products
come in clusters bought together (a customer has one to three clusters of interest and
fills most of each basket from them), basket sizes vary, and customers come back (the
number of orders per customer is geometric). Every customer's last order is held out;
the rest, at least ``--lines`` order lines, are paid orders in the database.

Then it runs the real rebuild (jobs.recommendations.rebuild) and, for a sample of the
customers with a held-out order, the real personal lookup of ``GET /api/recommendations``
(history from the customer's recent purchases, neighbours, bestsellers to fill up), and
scores both it and the popularity baseline (the ten bestsellers, same run, same data) with
HitRate@10 and NDCG@10 on the held-out order. Prints one JSON document: data shape,
rebuild seconds (wall and CPU of this process and of PostgreSQL, from /proc), quality of
both and their ratio, lookup latency p50/p95 for a product's neighbours and for the
personal lookup, wall and CPU (this thread's, ``time.thread_time``: steady on a loaded
machine, where wall time is mostly waiting for a core), and the targets.

Run: ``.venv/bin/python bench/recommendations.py [--lines 1000000] [--keep]`` (no Redis
needed). ``--database URL`` reruns only the lookups on a database a ``--keep`` run left
(the history is regenerated from the same seed, so the same customers are sampled): the
way to compare the lookups before and after a change in one sitting.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import json
import math
import os
import random
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# The job module builds the fleet's broker at import; the rebuild never talks to Redis.
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ.setdefault("LOG_LEVEL", "WARNING")

from harness import cpu_seconds, drop_database, provision_database, quantile_ms  # noqa: E402

K = 10
SEED = 26
PRODUCTS = 20_000
CLUSTER_SIZE = 20
ZIPF_PRODUCTS = 1.1  # popularity of products overall (the long tail)
ZIPF_CLUSTERS = 0.9  # popularity of clusters among customers
ZIPF_IN_CLUSTER = 0.8  # popularity of products within a cluster
IN_CLUSTER_SHARE = 0.75  # share of basket items from the customer's clusters
REPEAT_SHARE = 0.1  # share of items bought again from the customer's earlier orders
MEAN_EXTRA_ORDERS = 2.0  # orders per customer: 1 + geometric with this mean
EVALUATED = 5_000  # customers whose held-out order is scored (and lookups timed)


def zipf_weights(count: int, exponent: float) -> list[float]:
    """Cumulative weights of ranks 1..count under Zipf's law, for ``random.choices``."""
    return list(itertools.accumulate(1 / rank**exponent for rank in range(1, count + 1)))


@dataclass
class History:
    products: list[str]
    orders: list[tuple[str, str, list[str]]] = field(default_factory=list)  # id, email, skus
    held_out: dict[str, set[str]] = field(default_factory=dict)  # email -> last order's skus
    lines: int = 0


def generate(lines: int, rng: random.Random) -> History:
    """Customers and their orders until the kept (not held-out) orders reach ``lines``."""
    # Product ranks are shuffled across clusters, so a cluster mixes head and tail products.
    products = [f"P{index:05d}" for index in range(PRODUCTS)]
    by_rank = products[:]
    rng.shuffle(by_rank)
    clusters = [products[i : i + CLUSTER_SIZE] for i in range(0, PRODUCTS, CLUSTER_SIZE)]
    for cluster in clusters:
        rng.shuffle(cluster)
    overall = zipf_weights(PRODUCTS, ZIPF_PRODUCTS)
    cluster_weights = zipf_weights(len(clusters), ZIPF_CLUSTERS)
    in_cluster = zipf_weights(CLUSTER_SIZE, ZIPF_IN_CLUSTER)
    history = History(products)
    for number in itertools.count():
        if history.lines >= lines:
            return history
        email = f"c{number}@bench.example"
        interests = rng.choices(clusters, cum_weights=cluster_weights, k=rng.randint(1, 3))
        bought: list[str] = []
        count = 1 + min(int(rng.expovariate(1 / MEAN_EXTRA_ORDERS)), 30)
        for order_number in range(count):
            size = min(1 + int(rng.expovariate(1 / 2.4)), 12)
            basket: set[str] = set()
            focus = rng.choice(interests)
            while len(basket) < size:
                draw = rng.random()
                if draw < REPEAT_SHARE and bought:
                    basket.add(rng.choice(bought))
                elif draw < REPEAT_SHARE + IN_CLUSTER_SHARE:
                    basket.add(rng.choices(focus, cum_weights=in_cluster)[0])
                else:
                    basket.add(rng.choices(by_rank, cum_weights=overall)[0])
            skus = sorted(basket)
            if order_number == count - 1 and count > 1:
                history.held_out[email] = set(skus)
            else:
                history.orders.append((str(uuid.uuid4()), email, skus))
                history.lines += len(skus)
            bought.extend(skus)
    raise AssertionError("unreachable")


def _copy(cursor, statement: str, rows) -> None:
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(row))
        buffer.write("\n")
    buffer.seek(0)
    with cursor.copy(statement) as copy:
        while chunk := buffer.read(1 << 20):
            copy.write(chunk)


def load(url: str, history: History) -> None:
    """Products with stock, and the kept orders (paid, a minute apart, oldest first) by COPY."""
    import psycopg
    from sqlalchemy.engine import make_url

    from tests.support import services

    libpq = services._libpq(make_url(url).render_as_string(hide_password=False))
    address = '{"name": "B", "line1": "1", "city": "C", "postal_code": "1", "country": "US"}'
    with psycopg.connect(libpq) as connection, connection.cursor() as cursor:
        _copy(
            cursor,
            "COPY products (sku, name, price_cents, currency) FROM STDIN",
            ((sku, f"Product {sku}", "1000", "usd") for sku in history.products),
        )
        _copy(
            cursor,
            "COPY stock_levels (sku, warehouse, on_hand) FROM STDIN",
            ((sku, "main", "1000000") for sku in history.products),
        )
        start = time.time() - 60 * len(history.orders)
        _copy(
            cursor,
            "COPY orders (id, email, status, currency, subtotal_cents, discount_cents, total_cents,"
            " refunded_cents, shipping_address, created_at, paid_at) FROM STDIN",
            (
                (order_id, email, "paid", "usd", "1000", "0", "1000", "0", address, stamp, stamp)
                for index, (order_id, email, _) in enumerate(history.orders)
                for stamp in [
                    time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(start + 60 * index))
                ]
            ),
        )
        _copy(
            cursor,
            "COPY order_items (order_id, sku, name, quantity, unit_price_cents) FROM STDIN",
            (
                (order_id, sku, f"Product {sku}", "1", "1000")
                for order_id, _, skus in history.orders
                for sku in skus
            ),
        )
        cursor.execute("ANALYZE")
        connection.commit()


def postgres_cpu_seconds(url: str) -> float:
    """CPU seconds of every PostgreSQL backend of this benchmark's database so far."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as connection:
        pids = connection.scalars(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        ).all()
    engine.dispose()
    return cpu_seconds(pids)


def hit_and_ndcg(ranked: list[str], relevant: set[str]) -> tuple[float, float]:
    gains = [1 / math.log2(rank + 2) for rank, sku in enumerate(ranked[:K]) if sku in relevant]
    ideal = sum(1 / math.log2(rank + 2) for rank in range(min(len(relevant), K)))
    return (1.0 if gains else 0.0), sum(gains) / ideal


def evaluate(history: History, rng: random.Random) -> dict:
    """Score the personal lookup and the popularity baseline on held-out orders; time lookups."""
    from sqlalchemy import text

    from models.db import Session
    from models.recommendations import serving

    customers = sorted(history.held_out)
    sample = rng.sample(customers, min(EVALUATED, len(customers)))
    scores = {"recommendations": [0.0, 0.0], "popularity": [0.0, 0.0]}
    personal_s: list[float] = []
    product_s: list[float] = []
    personal_cpu_s: list[float] = []
    product_cpu_s: list[float] = []
    with Session() as session:
        backend = session.scalar(text("SELECT pg_backend_pid()"))
        cpu_before = cpu_seconds([os.getpid(), backend])
        popular = [item.product.sku for item in serving.bestsellers(session, limit=K)]
        for email in sample:
            started, started_cpu = time.perf_counter(), time.thread_time()
            found, _ = serving.personal(session, visitor_id=None, email=email, in_cart=[], limit=K)
            personal_s.append(time.perf_counter() - started)
            personal_cpu_s.append(time.thread_time() - started_cpu)
            ranked = [item.product.sku for item in found]
            for name, ranking in (("recommendations", ranked), ("popularity", popular)):
                hit, ndcg = hit_and_ndcg(ranking, history.held_out[email])
                scores[name][0] += hit
                scores[name][1] += ndcg
            sku = rng.choice(sorted(history.held_out[email]))
            started, started_cpu = time.perf_counter(), time.thread_time()
            serving.also_bought(session, [sku], exclude=[sku], limit=K)
            product_s.append(time.perf_counter() - started)
            product_cpu_s.append(time.thread_time() - started_cpu)
            session.rollback()  # each lookup a request of its own: no long snapshot
        lookups_cpu_s = cpu_seconds([os.getpid(), backend]) - cpu_before
    quality = {
        name: {
            "hit_rate_at_10": round(hit / len(sample), 4),
            "ndcg_at_10": round(ndcg / len(sample), 4),
        }
        for name, (hit, ndcg) in scores.items()
    }
    return {
        "customers_evaluated": len(sample),
        "quality": quality,
        "lookup_ms": {
            "product_p50": quantile_ms(product_s, 0.50),
            "product_p95": quantile_ms(product_s, 0.95),
            "personal_p50": quantile_ms(personal_s, 0.50),
            "personal_p95": quantile_ms(personal_s, 0.95),
            "product_cpu_p50": quantile_ms(product_cpu_s, 0.50),
            "product_cpu_p95": quantile_ms(product_cpu_s, 0.95),
            "personal_cpu_p50": quantile_ms(personal_cpu_s, 0.50),
            "personal_cpu_p95": quantile_ms(personal_cpu_s, 0.95),
            # What the lookups cost this process and their PostgreSQL backend, from /proc:
            # wall time on a loaded machine is mostly waiting for a core.
            "cpu_per_personal_and_product_lookup": round(1000 * lookups_cpu_s / len(sample), 2),
        },
    }


def lookups_only(url: str, lines: int) -> None:
    """Quality and lookups on a database already loaded and rebuilt (left by ``--keep``)."""
    os.environ["DATABASE_URL"] = url
    from models import db

    db.configure(url)
    rng = random.Random(SEED)
    load_average = os.getloadavg()
    try:
        history = generate(lines, rng)
        evaluation = evaluate(history, rng)
    finally:
        db.engine().dispose()
    report = {
        "load_average_1m_at_start_and_end": [load_average[0], os.getloadavg()[0]],
        "database_url": url,
        "order_lines": history.lines,
        **evaluation,
    }
    print(json.dumps(report, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000, help="order lines kept")
    parser.add_argument(
        "--keep", action="store_true", help="keep the database (its url is printed)"
    )
    parser.add_argument(
        "--database", help="a database a --keep run left (same --lines): rerun the lookups only"
    )
    args = parser.parse_args()
    if args.database:
        lookups_only(args.database, args.lines)
        return

    url, admin = provision_database("recs")
    os.environ["DATABASE_URL"] = url
    try:
        from alembic import command

        from jobs.recommendations import rebuild
        from migrations import alembic_config
        from models import db
        from models.recommendations.build import BuildSettings

        command.upgrade(alembic_config(url), "head")
        db.configure(url)
        rng = random.Random(SEED)
        load_average = os.getloadavg()

        started = time.perf_counter()
        history = generate(args.lines, rng)
        generate_s = time.perf_counter() - started
        started = time.perf_counter()
        load(url, history)
        load_s = time.perf_counter() - started

        settings = BuildSettings()
        cpu_before = (cpu_seconds([os.getpid()]), postgres_cpu_seconds(url))
        started = time.perf_counter()
        result = rebuild(settings)
        rebuild_s = time.perf_counter() - started
        cpu_after = (cpu_seconds([os.getpid()]), postgres_cpu_seconds(url))

        evaluation = evaluate(history, rng)
        quality = evaluation["quality"]
        ratios = {
            metric: round(
                quality["recommendations"][metric] / max(quality["popularity"][metric], 1e-9), 2
            )
            for metric in ("hit_rate_at_10", "ndcg_at_10")
        }
        report = {
            "load_average_1m_at_start_and_end": [load_average[0], os.getloadavg()[0]],
            "data": {
                "order_lines": history.lines,
                "orders": len(history.orders),
                "customers": len({email for _, email, _ in history.orders}),
                "held_out_orders": len(history.held_out),
                "products": PRODUCTS,
                "generate_seconds": round(generate_s, 1),
                "load_seconds": round(load_s, 1),
            },
            "rebuild": {
                "settings": vars(settings),
                "seconds": round(rebuild_s, 2),
                # The pool's backend for the rebuild is counted with the others of the db.
                "cpu_seconds_bench_process": round(cpu_after[0] - cpu_before[0], 2),
                "cpu_seconds_postgres": round(cpu_after[1] - cpu_before[1], 2),
                "products_bought": result.products,
                "products_with_neighbours": result.anchors,
                "neighbour_rows": result.neighbours,
            },
            **evaluation,
            "ratio_to_popularity": ratios,
            "targets": {
                "at_least_2x_popularity": min(ratios.values()) >= 2,
                "rebuild_within_60s": rebuild_s <= 60,
                "lookup_p95_within_10ms": max(
                    evaluation["lookup_ms"]["product_p95"], evaluation["lookup_ms"]["personal_p95"]
                )
                <= 10,
                "at_least_1m_lines": history.lines >= 1_000_000,
            },
        }
        if args.keep:
            report["database_url"] = url
        print(json.dumps(report, indent=2))
    finally:
        from models import db

        with contextlib.suppress(RuntimeError):
            db.engine().dispose()
        if not args.keep:
            drop_database(url, admin)


if __name__ == "__main__":
    main()
