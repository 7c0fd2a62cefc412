"""Checkout and cart-read throughput under gunicorn, beside a bare Flask route.

Provisions its own PostgreSQL database and Redis db (tests/support/services), starts a
local Stripe server and two gunicorn instances with the project's settings
(web/gunicorn_conf.py): the cartfleet app and a bare Flask app. Measures, in one run:

- the 100-buyer race: 100 concurrent checkouts from 100 carts for a sku with 10 on hand
  (several rounds); exactly 10 orders and 90 clean 409s per round, nothing else;
- ``GET /api/carts/{id}`` with 10 items, and the bare route, each for a fixed time with
  keep-alive connections from an asyncio client in this process, in alternating slices;
- the RSS of every gunicorn process afterwards.

Prints one JSON document. Run: ``.venv/bin/python bench/checkout.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time

from harness import (
    HOST,
    ROOT,
    children,
    closed_loop,
    cpu_seconds,
    exchange,
    fleet_env,
    gunicorn,
    quantile_ms,
    rss,
    stop,
    wait_ready,
)

sys.path.insert(0, str(ROOT))

GET_SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
GET_SLICES = 10  # bare and cart runs alternate, so background load hits both alike
WARMUP_SECONDS = 1.5
GET_CONNECTIONS = 16
RACE_ROUNDS = 5
BUYERS = 100
UNITS_ON_HAND = 10
CART_ITEMS = 10
CHECKOUT_BODY = {
    "email": "buyer@example.com",
    "shipping_address": {
        "name": "Ada Lovelace",
        "line1": "1 Main St",
        "city": "Springfield",
        "postal_code": "12345",
        "country": "US",
    },
}


def bare_app():
    """The baseline: one JSON route, no database (``gunicorn 'checkout:bare_app()'``)."""
    from flask import Flask

    app = Flask("bare")

    @app.get("/bare")
    def bare():
        return {"status": "ok"}

    return app


# --- HTTP client -----------------------------------------------------------------------


def _request(method: str, path: str, body: dict | None = None) -> bytes:
    payload = json.dumps(body).encode() if body is not None else b""
    head = f"{method} {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: keep-alive\r\n"
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
    return head.encode() + b"\r\n" + payload


async def _race(port: int, cart_ids: list[str]) -> dict:
    """Every buyer connects first, then all post their checkout at once."""
    links = [await asyncio.open_connection(HOST, port) for _ in cart_ids]
    latencies: list[float] = []
    results: list[tuple[int, dict]] = []

    async def buy(link, cart_id: str) -> None:
        reader, writer = link
        request = _request("POST", f"/api/carts/{cart_id}/checkout", CHECKOUT_BODY)
        start = time.perf_counter()
        status, body, _ = await exchange(reader, writer, request)
        latencies.append(time.perf_counter() - start)
        results.append((status, json.loads(body)))
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(
        *(buy(link, cart_id) for link, cart_id in zip(links, cart_ids, strict=True))
    )
    return {
        "latencies": latencies,
        "results": results,
        "statuses": [status for status, _ in results],
        "elapsed": time.perf_counter() - started,
    }


class Phase:
    """One measured workload, accumulated over its interleaved slices."""

    def __init__(self, master: subprocess.Popen) -> None:
        self.master = master
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.elapsed = 0.0
        self.server_cpu = 0.0

    def add(self, latencies: list[float], statuses: list[int], elapsed: float, cpu: float):
        self.latencies += latencies
        self.elapsed += elapsed
        self.server_cpu += cpu
        for status in statuses:
            self.statuses[status] = self.statuses.get(status, 0) + 1

    def summary(self, *, expected: tuple[int, ...] = (200,)) -> dict:
        total = sum(self.statuses.values())
        return {
            "requests": total,
            "req_per_s": round(total / self.elapsed, 1),
            "p50_ms": quantile_ms(self.latencies, 0.50),
            "p99_ms": quantile_ms(self.latencies, 0.99),
            "server_cpu_ms_per_request": round(self.server_cpu / total * 1000, 3),
            "errors": sum(n for status, n in self.statuses.items() if status not in expected),
        }


def _measure(phase: Phase, workload, *args) -> dict:
    """Run the coroutine ``workload(*args)``; charge its time and the workers' CPU to ``phase``."""
    before = cpu_seconds(children(phase.master.pid))
    result = asyncio.run(workload(*args))
    phase.add(
        result["latencies"],
        result["statuses"],
        result["elapsed"],
        cpu_seconds(children(phase.master.pid)) - before,
    )
    return result


# --- data ------------------------------------------------------------------------------


def _seed(rounds: int) -> tuple[str, list[list[str]]]:
    """One 10-item cart for reads; per race round a sku with 10 units and 100 carts."""
    from models.db import Session
    from tests.support import factories

    with Session.begin() as session:
        for number in range(CART_ITEMS):
            factories.product(session, f"READ-{number}", stock={"main": 1000})
        read_cart = factories.cart(session, items={f"READ-{n}": 1 for n in range(CART_ITEMS)}).id
        races = []
        for round_number in range(rounds):
            sku = f"HOT-{round_number}"
            factories.product(session, sku, stock={"main": UNITS_ON_HAND})
            races.append([factories.cart(session, items={sku: 1}).id for _ in range(BUYERS)])
    return read_cart, races


def _check_round(sku: str, results: list[tuple[int, dict]]) -> list[str]:
    """What went wrong in one race round (empty when it was clean)."""
    from sqlalchemy import func, select

    from models.db import Session
    from models.orders.tables import Order, OrderItem
    from models.stock import availability
    from models.stock.tables import StockLevel

    problems = []
    statuses = [status for status, _ in results]
    if statuses.count(201) != UNITS_ON_HAND or statuses.count(409) != BUYERS - UNITS_ON_HAND:
        problems.append(f"{sku}: statuses {sorted(set(statuses))}")
    if any(body.get("error") != "out_of_stock" for status, body in results if status == 409):
        problems.append(f"{sku}: a 409 other than out_of_stock")
    with Session.begin() as session:
        orders = session.scalar(
            select(func.count(func.distinct(Order.id)))
            .join(OrderItem)
            .where(OrderItem.sku == sku, Order.payment_intent_id.is_not(None))
        )
        on_hand = session.scalar(select(StockLevel.on_hand).where(StockLevel.sku == sku))
        available = availability.available_units(session, [sku])[sku]
    if (orders, on_hand, available) != (UNITS_ON_HAND, UNITS_ON_HAND, 0):
        problems.append(f"{sku}: orders={orders} on_hand={on_hand} available={available}")
    return problems


def main() -> None:
    from alembic import command

    from devtools.embedded import free_port
    from devtools.stripe_sandbox import SandboxServer
    from migrations import alembic_config
    from tests.support import services

    provisioned = services.provision()
    stripe_server = SandboxServer().start()  # in memory
    processes: list[subprocess.Popen] = []
    try:
        command.upgrade(alembic_config(provisioned.database_url), "head")
        from models import db

        db.configure(provisioned.database_url)
        read_cart, races = _seed(RACE_ROUNDS)

        env = fleet_env(provisioned.database_url, provisioned.redis_url, stripe_server.url)
        app_port, bare_port = free_port(), free_port()
        app = gunicorn("web:create_app()", app_port, env, quiet=False)
        bare = gunicorn(
            "checkout:bare_app()", bare_port, env, pythonpath=str(ROOT / "bench"), quiet=False
        )
        processes += [app, bare]
        wait_ready(app_port, "/healthz")
        wait_ready(bare_port, "/bare")

        cart_get = _request("GET", f"/api/carts/{read_cart}")
        bare_get = _request("GET", "/bare")
        asyncio.run(closed_loop(app_port, [cart_get], WARMUP_SECONDS, GET_CONNECTIONS))
        asyncio.run(closed_loop(bare_port, [bare_get], WARMUP_SECONDS, GET_CONNECTIONS))

        # Bare slices, cart slices and race rounds alternate, so background load on the
        # machine weighs on all three alike.
        slice_seconds = GET_SECONDS / GET_SLICES
        bare_phase, cart_phase, race_phase = Phase(bare), Phase(app), Phase(app)
        problems: list[str] = []
        for number in range(GET_SLICES):
            _measure(bare_phase, closed_loop, bare_port, [bare_get], slice_seconds, GET_CONNECTIONS)
            _measure(cart_phase, closed_loop, app_port, [cart_get], slice_seconds, GET_CONNECTIONS)
            if number < len(races):
                race = _measure(race_phase, _race, app_port, races[number])
                problems += _check_round(f"HOT-{number}", race["results"])

        bare_run = bare_phase.summary()
        cart_run = cart_phase.summary()
        checkout_run = {
            "rounds": len(races),
            "buyers_per_round": BUYERS,
            "units_per_round": UNITS_ON_HAND,
            **race_phase.summary(expected=(201, 409)),
            "orders_per_s": round(race_phase.statuses.get(201, 0) / race_phase.elapsed, 1),
            "problems": problems,
        }
        checkout_run["checkouts_per_s"] = checkout_run.pop("req_per_s")
        report = {
            "machine_cpus": os.cpu_count(),
            "gunicorn": {
                "workers": int(env.get("WEB_CONCURRENCY", "2")),
                "threads": int(env.get("WEB_THREADS", "8")),
                "worker_class": "web.server.WaitressWorker",
            },
            "client": {
                "connections": GET_CONNECTIONS,
                "seconds_each": GET_SECONDS,
                "alternating_slices": GET_SLICES,
            },
            "bare_route": bare_run,
            "cart_get_10_items": cart_run,
            "checkout_race": checkout_run,
            "ratios": {
                "cart_get_vs_bare": round(cart_run["req_per_s"] / bare_run["req_per_s"], 3),
                "checkout_vs_bare": round(
                    checkout_run["checkouts_per_s"] / bare_run["req_per_s"], 3
                ),
                "cart_get_server_cpu_vs_bare": round(
                    cart_run["server_cpu_ms_per_request"] / bare_run["server_cpu_ms_per_request"],
                    2,
                ),
            },
            "targets": {"cart_get_vs_bare": 0.35, "checkout_vs_bare": 0.05},
            "rss": {
                "app": rss(app, children_key="workers_mib"),
                "bare": rss(bare, children_key="workers_mib"),
            },
        }
        print(json.dumps(report, indent=2))
    finally:
        for process in processes:
            stop(process)
        stripe_server.stop()
        from models import db

        with contextlib.suppress(RuntimeError):
            db.engine().dispose()
        services.release(provisioned)


if __name__ == "__main__":
    main()
