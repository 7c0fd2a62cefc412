"""Slow clients against the web process: the waitress worker beside the old gthread one.

Provisions its own PostgreSQL database and Redis db (tests/support/services), a local
Stripe server, and two gunicorn instances with the project's settings
(web/gunicorn_conf.py), one as configured (waitress in each worker, web/server.py) and
one with ``--worker-class gthread`` (the setup before it). Measures, in one run, for each:

- ``GET /healthz`` and ``GET /api/carts/{id}`` (10 items) from a closed-loop client: p50,
  p99, throughput, and requests that got no answer within 2 s; first with no slow
  clients, then while ``BENCH_SLOW_CLIENTS`` (default and at most 256) connections
  dribble a request head, one header line every half second, never finishing it;
- bench/checkout.py's traffic without slow clients: cart reads for a fixed time and the
  100-buyer checkout race, in alternating slices across the two servers.

Loopback only; every loop is bounded by a deadline. Prints one JSON document.
Run: ``.venv/bin/python bench/slow_clients.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time

from checkout import CART_ITEMS, Phase, _check_round, _measure, _race, _request, _seed
from harness import (
    HOST,
    ROOT,
    closed_loop,
    exchange,
    fleet_env,
    gunicorn,
    quantile_ms,
    stop,
    wait_ready,
)

sys.path.insert(0, str(ROOT))

SECONDS = float(os.environ.get("BENCH_SECONDS", "4"))
SLOW_CLIENTS = min(int(os.environ.get("BENCH_SLOW_CLIENTS", "256")), 256)
CONNECTIONS = 8  # the measuring client's keep-alive connections
ANSWER_WITHIN_S = 2.0
DRIBBLE_EVERY_S = 0.5
CHECKOUT_SLICES = 4  # cart-read slices and race rounds per server, alternating
CHECKOUT_CONNECTIONS = 16
SERVERS = {"waitress_in_gunicorn": (), "gthread": ("--worker-class", "gthread")}


async def _dribble(port: int, deadline: float) -> None:
    """One slow client: a request head that never ends, until ``deadline``."""
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection(HOST, port)
        except OSError:
            await asyncio.sleep(DRIBBLE_EVERY_S)
            continue
        try:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: bench\r\n")
            while time.monotonic() < deadline:
                await asyncio.sleep(DRIBBLE_EVERY_S)
                writer.write(b"X-Slow: 1\r\n")
                await writer.drain()
        except OSError:
            pass  # cut off by the server: connect again
        finally:
            writer.close()


async def _timed_loop(port: int, request: bytes, seconds: float) -> dict:
    """A closed loop like harness.closed_loop, but a request unanswered in 2 s is a miss."""
    latencies: list[float] = []
    missed = 0
    deadline = time.monotonic() + seconds

    async def connect():
        return await asyncio.wait_for(asyncio.open_connection(HOST, port), ANSWER_WITHIN_S)

    async def connection() -> None:
        nonlocal missed
        link = None
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                if link is None:
                    link = await connect()
                status, _, keep = await asyncio.wait_for(exchange(*link, request), ANSWER_WITHIN_S)
            except (TimeoutError, OSError, asyncio.IncompleteReadError):
                missed += 1
                if link is not None:
                    link[1].close()
                link = None
                continue
            if status == 200:
                latencies.append(time.perf_counter() - started)
            else:
                missed += 1
            if not keep:
                link[1].close()
                link = None
        if link is not None:
            link[1].close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(CONNECTIONS)))
    elapsed = time.perf_counter() - started
    return {
        "req_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": quantile_ms(latencies, 0.50),
        "p99_ms": quantile_ms(latencies, 0.99),
        "answered": len(latencies),
        "missed": missed,
    }


async def _under_slow_clients(port: int, request: bytes, slow: int) -> dict:
    deadline = time.monotonic() + SECONDS + 1
    dribblers = [asyncio.create_task(_dribble(port, deadline)) for _ in range(slow)]
    await asyncio.sleep(1)  # every slow client connected and part-way through its head
    try:
        return await _timed_loop(port, request, SECONDS)
    finally:
        for task in dribblers:
            task.cancel()
        await asyncio.gather(*dribblers, return_exceptions=True)


def _slow_client_phase(port: int, cart_id: str) -> dict:
    report = {}
    for name, path in (("healthz", "/healthz"), ("cart_get_10_items", f"/api/carts/{cart_id}")):
        request = _request("GET", path)
        report[name] = {
            "no_slow_clients": asyncio.run(_timed_loop(port, request, SECONDS)),
            f"{SLOW_CLIENTS}_slow_clients": asyncio.run(
                _under_slow_clients(port, request, SLOW_CLIENTS)
            ),
        }
        wait_ready(port, "/healthz", timeout=90)  # the old setup recovers once they go
    return report


def main() -> None:
    from alembic import command

    from devtools.embedded import free_port
    from devtools.stripe_sandbox import SandboxServer
    from migrations import alembic_config
    from tests.support import services

    provisioned = services.provision()
    stripe_server = SandboxServer().start()  # in memory
    processes: dict[str, subprocess.Popen] = {}
    try:
        command.upgrade(alembic_config(provisioned.database_url), "head")
        from models import db

        db.configure(provisioned.database_url)
        read_cart, races = _seed(CHECKOUT_SLICES * len(SERVERS))
        env = fleet_env(
            provisioned.database_url, provisioned.redis_url, stripe_server.url, LOG_LEVEL="ERROR"
        )
        ports = {name: free_port() for name in SERVERS}
        for name, options in SERVERS.items():
            processes[name] = gunicorn("web:create_app()", ports[name], env, options=options)
        for port in ports.values():
            wait_ready(port, "/healthz")

        cart_get = _request("GET", f"/api/carts/{read_cart}")
        for port in ports.values():
            asyncio.run(closed_loop(port, [cart_get], 1.0, CHECKOUT_CONNECTIONS))

        # checkout.py's traffic, the two servers alternating slice by slice.
        reads = {name: Phase(processes[name]) for name in SERVERS}
        checkouts = {name: Phase(processes[name]) for name in SERVERS}
        problems: dict[str, list[str]] = {name: [] for name in SERVERS}
        pending = iter(enumerate(races))
        for _ in range(CHECKOUT_SLICES):
            for name, port in ports.items():
                _measure(
                    reads[name], closed_loop, port, [cart_get], SECONDS / 2, CHECKOUT_CONNECTIONS
                )
                number, carts = next(pending)
                race = _measure(checkouts[name], _race, port, carts)
                problems[name] += _check_round(f"HOT-{number}", race["results"])

        report = {
            "machine_cpus": os.cpu_count(),
            "gunicorn": {
                "workers": int(env.get("WEB_CONCURRENCY", "2")),
                "threads": int(env.get("WEB_THREADS", "8")),
            },
            "slow_clients": SLOW_CLIENTS,
            "seconds_each": SECONDS,
            "measuring_connections": CONNECTIONS,
            "answer_within_s": ANSWER_WITHIN_S,
            "cart_items": CART_ITEMS,
            "servers": {},
        }
        for name, port in ports.items():
            checkout_run = checkouts[name].summary(expected=(201, 409))
            report["servers"][name] = {
                **_slow_client_phase(port, read_cart),
                "checkout_traffic": {
                    "cart_get": reads[name].summary(),
                    "checkout_race": {
                        **checkout_run,
                        "orders_per_s": round(
                            checkouts[name].statuses.get(201, 0) / checkouts[name].elapsed, 1
                        ),
                        "problems": problems[name],
                    },
                },
            }
        new, old = (report["servers"][name]["checkout_traffic"] for name in SERVERS)
        report["ratios_new_vs_gthread"] = {
            "cart_get_req_per_s": round(
                new["cart_get"]["req_per_s"] / old["cart_get"]["req_per_s"], 3
            ),
            "checkouts_per_s": round(
                new["checkout_race"]["req_per_s"] / old["checkout_race"]["req_per_s"], 3
            ),
        }
        print(json.dumps(report, indent=2))
    finally:
        for process in processes.values():
            stop(process)
        stripe_server.stop()
        from models import db

        with contextlib.suppress(RuntimeError):
            db.engine().dispose()
        services.release(provisioned)


if __name__ == "__main__":
    main()
