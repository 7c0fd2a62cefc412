"""The live-cart gateway (``python -m realtime``): memory, commit-to-hint latency, hostile
clients.

Provisions its own PostgreSQL database (tests/support/services) and its own
``redis-server`` on a free loopback port, seeds 100 carts and starts the gateway as the
Procfile does. Measures, in one run:

- RSS of the gateway idle, then holding ``BENCH_CONNECTIONS`` (default 1,000) idle
  WebSockets, 10 per cart (goal: under 100 MB);
- commit-to-hint latency: 100 threads (in ``WRITER_PROCESSES`` processes) each change
  their own cart ``BENCH_WRITES`` times through the project's write path
  (``models.carts.edits`` in ``Session.begin()``, hint published after commit by
  ``services.cart_hints``); the clock starts as COMMIT returns (a session listener that
  runs before the publish) and stops when a client socket here receives the hint
  (CLOCK_MONOTONIC, one clock for every process). p50/p95/p99 over every socket's receipt;
- the same hints seen by a plain Redis subscriber in this process: the baseline, so the
  gateway's share is a ratio (this machine is shared; absolute figures move with its load);
- the same with hostile clients running: bad-token handshakes in a loop, flooders, and
  clients sending frames over the size limit; reported as a ratio to the calm run.

CPU seconds of the gateway (from /proc) beside wall time for each phase. Loopback only;
every loop is bounded. Prints one JSON document. Run: ``.venv/bin/python bench/live.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import os
import resource
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

from harness import HOST, ROOT, _rss_mib, cpu_seconds, quantile_ms, spawn, stop, wait_ready

sys.path.insert(0, str(ROOT))

CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "1000"))
CARTS = 100
WRITES = int(os.environ.get("BENCH_WRITES", "10"))
SECRET = "bench-live-secret"
HOSTILE_HANDSHAKERS, FLOODERS, GIANTS = 20, 20, 20
MEMORY_GOAL_MB = 100
# The writers run as the web would, in processes of their own (threads within each), so the
# client sockets' event loop here is not starved by them.
WRITER_PROCESSES = 2


def _seed() -> list[str]:
    from models.db import Session
    from tests.support import factories

    with Session.begin() as session:
        factories.product(session, "LIVE", stock={"main": 10_000})
        return [factories.cart(session, items={"LIVE": 1}).id for _ in range(CARTS)]


class Receipts:
    """When each socket received each hint (``cart_id``, ``version``); ``direct``: when a
    plain Redis subscriber in this process did (the baseline: pub/sub without the gateway)."""

    def __init__(self) -> None:
        self.at: list[tuple[str, int, float]] = []
        self.direct: list[tuple[str, int, float]] = []

    async def subscribe_directly(self, redis_url: str) -> None:
        import redis.asyncio as aioredis

        from services.hint_wire import CHANNEL, decode

        client = aioredis.from_url(redis_url)
        async with client.pubsub() as pubsub:
            await pubsub.subscribe(CHANNEL)
            async for message in pubsub.listen():
                hint = decode(message["data"]) if message["type"] == "message" else None
                if hint is not None:
                    self.direct.append((*hint, time.monotonic()))

    async def listen(self, socket) -> None:
        with contextlib.suppress(Exception):
            async for message in socket:
                hint = json.loads(message)
                self.at.append((hint["cart_id"], hint["version"], time.monotonic()))


def _write_carts(database_url: str, redis_url: str, carts: list[str]) -> dict:
    """In a writer process (as a web process would be): one thread per cart, each changing
    its cart ``WRITES`` times; returns when each (cart, version) committed."""
    from sqlalchemy import event

    from models import db
    from models.carts import edits
    from models.carts.reads import StockPolicy
    from models.db import AppSession, Session
    from services import cart_hints

    db.configure(database_url, pool_size=len(carts))
    cart_hints.install(redis_url)
    committed: dict[tuple[str, int], float] = {}
    lock = threading.Lock()
    local = threading.local()

    # Inserted first: runs as COMMIT returns, before the after-commit publish.
    @event.listens_for(AppSession, "after_commit", insert=True)
    def _committed(_session) -> None:
        local.at = time.monotonic()

    def write(cart_id: str) -> None:
        for number in range(WRITES):
            with Session.begin() as session:
                view = edits.set_quantity(
                    session,
                    cart_id=cart_id,
                    sku="LIVE",
                    quantity=2 + number % 5,
                    policy=StockPolicy(),
                )
            with lock:
                committed[cart_id, view.version] = local.at

    with ThreadPoolExecutor(max_workers=len(carts)) as pool:
        list(pool.map(write, carts))
    return committed


def _delays(receipts: list, committed: dict) -> list[float]:
    return [
        at - committed[cart, version]
        for cart, version, at in receipts
        if (cart, version) in committed
    ]


async def _latency(writers, urls: tuple[str, str], carts: list[str], receipts: Receipts) -> dict:
    receipts.at.clear()
    receipts.direct.clear()
    started = time.monotonic()
    loop = asyncio.get_running_loop()
    share = len(carts) // WRITER_PROCESSES
    parts = [carts[i * share : (i + 1) * share] for i in range(WRITER_PROCESSES)]
    results = await asyncio.gather(
        *(loop.run_in_executor(writers, _write_carts, *urls, part) for part in parts)
    )
    committed = {key: at for result in results for key, at in result.items()}
    await asyncio.sleep(1.0)  # the last hints in flight
    wall = time.monotonic() - started
    delays = _delays(receipts.at, committed)
    direct = _delays(receipts.direct, committed)
    expected = len(committed) * (CONNECTIONS // CARTS)
    return {
        "writes": len(committed),
        "hints_received": len(delays),
        "hints_expected": expected,
        "p50_ms": quantile_ms(delays, 0.5),
        "p95_ms": quantile_ms(delays, 0.95),
        "p99_ms": quantile_ms(delays, 0.99),
        "redis_direct_p50_ms": quantile_ms(direct, 0.5),
        "redis_direct_p95_ms": quantile_ms(direct, 0.95),
        "p95_ratio_to_redis_direct": (
            round(quantile_ms(delays, 0.95) / quantile_ms(direct, 0.95), 2) if direct else None
        ),
        "wall_s": round(wall, 2),
    }


async def _hostile(url: str, carts: list[str], stop_at: float, counts: dict) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidStatus

    async def handshaker() -> None:
        while time.monotonic() < stop_at:
            try:
                async with connect(f"{url}/carts/{carts[0]}?token=forged", open_timeout=5):
                    counts["accepted_bad_tokens"] += 1
            except InvalidStatus:
                counts["refused_handshakes"] += 1
            except OSError:
                await asyncio.sleep(0.05)

    async def flooder(giant: bool) -> None:
        from services import live_tokens

        while time.monotonic() < stop_at:
            token = live_tokens.issue(carts[1], secret=SECRET, ttl_s=300).token
            try:
                async with connect(f"{url}/carts/{carts[1]}?token={token}") as socket:
                    while time.monotonic() < stop_at:
                        await socket.send("x" * 100_000 if giant else "flood")
                        await asyncio.sleep(0.001)
            except Exception:
                counts["cut_off_giants" if giant else "cut_off_flooders"] += 1
                await asyncio.sleep(0.05)

    await asyncio.gather(
        *(handshaker() for _ in range(HOSTILE_HANDSHAKERS)),
        *(flooder(False) for _ in range(FLOODERS)),
        *(flooder(True) for _ in range(GIANTS)),
    )


async def _run(url: str, gateway_pid: int, carts: list[str], urls: tuple[str, str]) -> dict:
    from websockets.asyncio.client import connect

    from services import live_tokens

    report: dict = {"rss_idle_mb": _rss_mib(gateway_pid)}
    receipts = Receipts()
    sockets = []
    started, cpu = time.monotonic(), cpu_seconds([gateway_pid])
    for number in range(CONNECTIONS):
        cart = carts[number % CARTS]
        token = live_tokens.issue(cart, secret=SECRET, ttl_s=600).token
        sockets.append(await connect(f"{url}/carts/{cart}?token={token}", compression=None))
    listeners = [asyncio.create_task(receipts.listen(socket)) for socket in sockets]
    listeners.append(asyncio.create_task(receipts.subscribe_directly(urls[1])))
    await asyncio.sleep(2)
    rss = _rss_mib(gateway_pid)
    report["connections"] = {
        "open": len(sockets),
        "rss_mb": rss,
        "kib_per_connection": round((rss - report["rss_idle_mb"]) * 1024 / len(sockets), 1),
        "goal_mb": MEMORY_GOAL_MB,
        "under_goal": rss < MEMORY_GOAL_MB,
        "connect_wall_s": round(time.monotonic() - started, 2),
        "gateway_cpu_s": round(cpu_seconds([gateway_pid]) - cpu, 2),
    }
    spawn_context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(WRITER_PROCESSES, mp_context=spawn_context) as writers:
        cpu = cpu_seconds([gateway_pid])
        calm = await _latency(writers, urls, carts, receipts)
        calm["gateway_cpu_s"] = round(cpu_seconds([gateway_pid]) - cpu, 2)

        counts = dict.fromkeys(
            ("refused_handshakes", "accepted_bad_tokens", "cut_off_flooders", "cut_off_giants"), 0
        )
        hostile_task = asyncio.create_task(_hostile(url, carts, time.monotonic() + 60, counts))
        await asyncio.sleep(1)  # the hostile clients at full swing
        cpu = cpu_seconds([gateway_pid])
        attacked = await _latency(writers, urls, carts, receipts)
        attacked["gateway_cpu_s"] = round(cpu_seconds([gateway_pid]) - cpu, 2)
        hostile_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await hostile_task
    attacked["hostile"] = counts
    report["commit_to_hint"] = calm
    report["commit_to_hint_with_hostile_clients"] = attacked
    report["hostile_p95_ratio_to_calm"] = (
        round(attacked["p95_ms"] / calm["p95_ms"], 2) if calm["p95_ms"] else None
    )
    report["rss_after_mb"] = _rss_mib(gateway_pid)
    for socket in sockets:
        await socket.close()
    for listener in listeners:
        listener.cancel()
    return report


def main() -> None:
    from alembic import command

    from devtools.embedded import free_port
    from migrations import alembic_config
    from models import db
    from tests.faults.cluster import Redis
    from tests.support import services

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    provisioned = services.provision()
    redis_server = Redis(Path(tempfile.mkdtemp(prefix="cartfleet-live-bench-"))).start()
    gateway = None
    try:
        command.upgrade(alembic_config(provisioned.database_url), "head")
        db.configure(provisioned.database_url)
        carts = _seed()
        port = free_port()
        env = {
            **os.environ,
            "CARTFLEET_ENV": "bench",
            "REDIS_URL": redis_server.url,
            "SECRET_KEY": SECRET,
            "LOG_LEVEL": "WARNING",
        }
        gateway = spawn(
            [sys.executable, "-m", "realtime", "--host", HOST, "--port", str(port)], env
        )
        wait_ready(port, "/healthz")
        time.sleep(1)  # subscribed to the hint channel
        urls = (provisioned.database_url, redis_server.url)
        report = asyncio.run(_run(f"ws://{HOST}:{port}", gateway.pid, carts, urls))
        print(json.dumps({"bench": "live", **report}, indent=2))
    finally:
        if gateway is not None:
            stop(gateway)
        redis_server.stop()
        services.release(provisioned)


if __name__ == "__main__":
    main()
