"""Warehouse routing: allocation cost in-process, and the checkout race over three
warehouses against one, in the same run.

Provisions its own PostgreSQL database and Redis db (tests/support/services), then:

- allocation: a 10-line order over 10 warehouses (US postal codes coast to coast; each
  warehouse holds half the skus, so no one covers the order and it splits). Timed both
  as ``routing.route`` alone (pure Python) and as ``reservations.reserve`` on the
  database (lock the stock rows, read free units, route, insert the reservations),
  rolled back after each run; p50/p95 of each, beside the baseline of the same order
  reserved from one warehouse, runs alternating.
- race: under gunicorn with a local Stripe server, rounds of 100 concurrent checkouts
  for a sku with 10 units, alternating a round with the units in ``main`` alone and a
  round with them spread 3/3/4 over three warehouses (buyers' postal codes varied).
  Every round must make exactly 10 orders and 90 clean 409s, with every warehouse's
  units held exactly once.

Prints one JSON document. Run: ``.venv/bin/python bench/warehouses.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time

from harness import HOST, ROOT, exchange, fleet_env, gunicorn, quantile_ms, stop, wait_ready

sys.path.insert(0, str(ROOT))

ALLOCATION_RUNS = int(os.environ.get("BENCH_ALLOCATIONS", "300"))
ROUTE_RUNS = 2000
RACE_ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
BUYERS = 100
POSTAL_CODES = (
    "10001", "02108", "19103", "30303", "33101", "60601", "75201", "80202", "94105", "98101",
)  # fmt: skip
SPREAD = {"east": ("10001", 3), "central": ("60601", 3), "west": ("94105", 4)}


def _address(postal_code: str) -> dict:
    return {"name": "Ada", "line1": "1 Main St", "city": "X", "postal_code": postal_code,
            "country": "US"}  # fmt: skip


# --- allocation ------------------------------------------------------------------------


def allocation() -> dict:
    from models.base import utcnow
    from models.db import Session
    from models.stock import reservations
    from models.warehouses import geo, routing
    from tests.support import factories

    codes = [f"w{n:02d}" for n in range(10)]
    skus = [f"LINE-{n}" for n in range(10)]
    with Session.begin() as session:
        for code, postal_code in zip(codes, POSTAL_CODES, strict=True):
            factories.warehouse(session, code, postal_code=postal_code)
        for n, sku in enumerate(skus):
            factories.product(session, sku, stock={codes[(n + k) % 10]: 50 for k in range(5)})
            factories.product(session, f"ONE-{n}", stock={"main": 250})
        order_id = factories.order(session).id
    spread = {sku: 3 for sku in skus}
    single = {f"ONE-{n}": 3 for n in range(10)}
    place = geo.locate("US", "73301")
    expires_at = utcnow().replace(year=utcnow().year + 1)

    times: dict[str, list[float]] = {"spread": [], "single": []}
    allocation_parts = None
    for _ in range(ALLOCATION_RUNS):
        for name, lines in (("spread", spread), ("single", single)):
            session = Session()
            try:
                start = time.perf_counter()
                reserved = reservations.reserve(
                    session,
                    order_id=order_id,
                    quantities=lines,
                    expires_at=expires_at,
                    country="US",
                    place=place,
                )
                times[name].append(time.perf_counter() - start)
                if name == "spread":
                    allocation_parts = len(reserved.allocation.parts)
            finally:
                session.rollback()
                session.close()

    # The same decision without the database: candidates as the reservation read them.
    candidates = [
        routing.Candidate(
            code, {sku: 50 for sku in skus if code in _holders(sku, codes)}, 100.0 * n
        )
        for n, code in enumerate(codes)
    ]
    route_times = []
    for _ in range(ROUTE_RUNS):
        start = time.perf_counter()
        routing.route(spread, candidates)
        route_times.append(time.perf_counter() - start)
    return {
        "lines": len(spread),
        "warehouses": len(codes),
        "shipments_chosen": allocation_parts,
        "reserve_on_database": {
            "runs": len(times["spread"]),
            "p50_ms": quantile_ms(times["spread"], 0.50),
            "p95_ms": quantile_ms(times["spread"], 0.95),
        },
        "baseline_reserve_from_one_warehouse": {
            "runs": len(times["single"]),
            "p50_ms": quantile_ms(times["single"], 0.50),
            "p95_ms": quantile_ms(times["single"], 0.95),
        },
        "route_in_python": {
            "runs": len(route_times),
            "p50_ms": quantile_ms(route_times, 0.50),
            "p95_ms": quantile_ms(route_times, 0.95),
        },
    }


def _holders(sku: str, codes: list[str]) -> set[str]:
    n = int(sku.rsplit("-", 1)[1])
    return {codes[(n + k) % 10] for k in range(5)}


# --- race ------------------------------------------------------------------------------


def _seed_race(rounds: int) -> list[tuple[str, dict[str, int], list[tuple[str, str]]]]:
    """Per round: a sku, its stock per warehouse, and 100 (cart, postal code) buyers; the
    first round warms the server up and is not measured."""
    from models.db import Session
    from tests.support import factories

    plans = []
    with Session.begin() as session:
        for code, (postal_code, _) in SPREAD.items():
            factories.warehouse(session, code, postal_code=postal_code)
        factories.product(session, "WARM", stock={"main": 10})
        warmup = [(factories.cart(session, items={"WARM": 1}).id, "10001") for _ in range(BUYERS)]
        plans.append(("WARM", {"main": 10}, warmup))
        for number in range(rounds):
            for layout in ("one", "three"):
                sku = f"HOT-{layout}-{number}"
                stock = {"main": 10} if layout == "one" else {c: n for c, (_, n) in SPREAD.items()}
                factories.product(session, sku, stock=stock)
                buyers = [
                    (factories.cart(session, items={sku: 1}).id, POSTAL_CODES[i % 10])
                    for i in range(BUYERS)
                ]
                plans.append((sku, stock, buyers))
    return plans


def _request(path: str, body: dict) -> bytes:
    payload = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: keep-alive\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    )
    return head.encode() + payload


async def _race(port: int, buyers: list[tuple[str, str]]) -> dict:
    """Every buyer connects first, then all post their checkout at once."""
    links = [await asyncio.open_connection(HOST, port) for _ in buyers]
    latencies: list[float] = []
    results: list[tuple[int, dict]] = []

    async def buy(link, cart_id: str, postal_code: str) -> None:
        reader, writer = link
        body = {"email": "buyer@example.com", "shipping_address": _address(postal_code)}
        start = time.perf_counter()
        status, raw, _ = await exchange(
            reader, writer, _request(f"/api/carts/{cart_id}/checkout", body)
        )
        latencies.append(time.perf_counter() - start)
        results.append((status, json.loads(raw)))
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(buy(link, *buyer) for link, buyer in zip(links, buyers, strict=True)))
    return {"latencies": latencies, "results": results, "elapsed": time.perf_counter() - started}


def _check(sku: str, stock: dict[str, int], results: list[tuple[int, dict]]) -> list[str]:
    from sqlalchemy import func, select

    from models.db import Session
    from models.stock.tables import Reservation, StockLevel

    problems = []
    statuses = [status for status, _ in results]
    if statuses.count(201) != 10 or statuses.count(409) != BUYERS - 10:
        problems.append(f"{sku}: statuses {sorted(set(statuses))}")
    with Session() as session:
        held = dict(
            session.execute(
                select(Reservation.warehouse, func.sum(Reservation.quantity))
                .where(Reservation.sku == sku, Reservation.status == "active")
                .group_by(Reservation.warehouse)
            ).all()
        )
        on_hand = dict(
            session.execute(
                select(StockLevel.warehouse, StockLevel.on_hand).where(StockLevel.sku == sku)
            ).all()
        )
    if held != stock or on_hand != stock:
        problems.append(f"{sku}: held {held}, on hand {on_hand}, seeded {stock}")
    return problems


def race(port: int, plans) -> dict:
    runs: dict[str, dict] = {
        layout: {"latencies": [], "elapsed": 0.0, "orders": 0, "problems": []}
        for layout in ("one", "three")
    }
    warmup, *measured = plans
    asyncio.run(_race(port, warmup[2]))
    for sku, stock, buyers in measured:
        layout = "one" if len(stock) == 1 else "three"
        result = asyncio.run(_race(port, buyers))
        run = runs[layout]
        run["latencies"] += result["latencies"]
        run["elapsed"] += result["elapsed"]
        run["orders"] += sum(1 for status, _ in result["results"] if status == 201)
        run["problems"] += _check(sku, stock, result["results"])
    return {
        f"{layout}_warehouse{'s' if layout == 'three' else ''}": {
            "rounds": RACE_ROUNDS,
            "buyers_per_round": BUYERS,
            "orders": run["orders"],
            "checkouts_per_s": round(BUYERS * RACE_ROUNDS / run["elapsed"], 1),
            "p50_ms": quantile_ms(run["latencies"], 0.50),
            "p99_ms": quantile_ms(run["latencies"], 0.99),
            "problems": run["problems"],
        }
        for layout, run in runs.items()
    }


def main() -> None:
    from alembic import command

    from devtools.embedded import free_port
    from devtools.stripe_sandbox import SandboxServer
    from migrations import alembic_config
    from tests.support import services

    provisioned = services.provision()
    stripe_server = SandboxServer().start()
    app = None
    try:
        command.upgrade(alembic_config(provisioned.database_url), "head")
        from models import db

        db.configure(provisioned.database_url)
        allocated = allocation()
        plans = _seed_race(RACE_ROUNDS)
        env = fleet_env(provisioned.database_url, provisioned.redis_url, stripe_server.url)
        port = free_port()
        app = gunicorn("web:create_app()", port, env, quiet=False)
        wait_ready(port, "/healthz")
        report = {
            "machine_cpus": os.cpu_count(),
            "allocation": allocated,
            "checkout_race": race(port, plans),
        }
        print(json.dumps(report, indent=2))
    finally:
        if app is not None:
            stop(app)
        stripe_server.stop()
        from models import db

        with contextlib.suppress(RuntimeError):
            db.engine().dispose()
        services.release(provisioned)


if __name__ == "__main__":
    main()
