"""The fault suite's mixed load without faults, at rising offered checkout rates.

Boots the same fleet as ``tests/faults`` (its own PostgreSQL, Redis, Stripe sandbox and
SMTP server; web, two workers, two schedulers), then for each offered checkout rate runs
the load (buyers = 4 x rate) for ``BENCH_SECONDS`` (20) and reports per endpoint p50/p99,
the job lag p99 from a payment succeeding on the sandbox to its confirmation email
reaching the SMTP server (and its stages: webhook received, event picked up, email claimed,
email delivered), errors (5xx and unanswered requests), and the emails still queued 5 s
after the window. It then waits for the backlog to drain (``BENCH_DRAIN_SECONDS``, 180), so
the lag, the emails missing and the CPU of each rate count every email its orders cost.
Two knees: checkout's (achieved within 10 % of offered, checkout p99 under 1 s, no error)
and the issue's whole criterion (also payment→email p99 under 2 s and no email missing).
``GET /healthz`` is measured in the same run (closed loop, 8 keep-alive connections) for
scale. A short load at 2/s (``BENCH_WARMUP_SECONDS``, 8) runs first and is not reported.

Each rate also reports the CPU seconds (user + system, from /proc) its window and drain cost each
process class: web, workers, schedulers, PostgreSQL, Redis (the fleet, summed and per
paid order) and the harness apart (this process: load generator, Stripe sandbox, SMTP
server). The fleet reaches its services straight; ``BENCH_PROXIES=1`` puts the fault
suite's proxies in between as ``tests/faults`` does. ``BENCH_PROFILE=path`` writes a
cProfile of the harness's threads (each on its own CPU clock, thread_profile.py) there.

Prints one JSON document. Run: ``.venv/bin/python bench/load.py`` (``BENCH_RATES=2,4,8,16,24``).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import resource
import sys
import time

import psycopg
import thread_profile
from harness import ROOT, closed_loop, quantile_ms, session_cpu_seconds

sys.path.insert(0, str(ROOT))

from devtools.embedded import free_port
from tests.faults.cluster import Services
from tests.faults.fleet import SCHEDULERS, WORKERS, Fleet
from tests.faults.load import Load

SECONDS = float(os.environ.get("BENCH_SECONDS", "20"))
RATES = [float(r) for r in os.environ.get("BENCH_RATES", "2,4,8,16,24").split(",")]
# The fleet reaches its services straight: no fault is injected here, and the fault
# proxies' threads would put their CPU and latency on every round trip.
PROXIED = os.environ.get("BENCH_PROXIES", "") == "1"
PROFILE = os.environ.get("BENCH_PROFILE", "")
BARE_SECONDS = 3
# Each process compiles its templates and imports Stripe's modules on first use: a short
# load before the first rate keeps that one-off cost out of the CPU per order.
WARMUP_SECONDS = float(os.environ.get("BENCH_WARMUP_SECONDS", "8"))
# After each rate, how long to wait for the emails still queued before counting the missing.
DRAIN_SECONDS = float(os.environ.get("BENCH_DRAIN_SECONDS", "180"))
FLEET_CLASSES = ("web", "workers", "schedulers", "postgres", "redis")
# Read from the raw bytes (the header may be folded): parsing every message would put the
# email package's CPU on the harness's bill for one header.
_ORDER_IN_ID = re.compile(rb"^Message-ID:\s*<order_confirmation\.([0-9a-f-]{36})@", re.M | re.I)


def _email_arrivals(services: Services) -> dict[str, float]:
    """Each order's first confirmation email: when the SMTP server received it."""
    smtp = services.smtp
    arrived: dict[str, float] = {}
    for raw, at in zip(list(smtp.raw), list(smtp.received_at), strict=False):
        match = _ORDER_IN_ID.search(raw)
        if match:
            arrived.setdefault(match[1].decode(), at)
    return arrived


# Each paid order's way to its confirmation email, stage by stage: the sandbox delivering
# the webhook (it holds deliveries back to reorder them), the event waiting for a worker,
# the worker applying it and the email job waiting for its worker, the email composed and
# handed to the SMTP server. The stamps are
# the database's (each transaction's start) beside the harness's monotonic clock.
_STAGE_STAMPS = """
SELECT o.id::text,
       (SELECT extract(epoch FROM min(w.received_at)) FROM webhook_events w
         WHERE w.type = 'payment_intent.succeeded'
           AND w.payload #>> '{data,object,metadata,order_id}' = o.id::text),
       (SELECT extract(epoch FROM min(w.processed_at)) FROM webhook_events w
         WHERE w.type = 'payment_intent.succeeded'
           AND w.payload #>> '{data,object,metadata,order_id}' = o.id::text),
       extract(epoch FROM e.created_at)
  FROM orders o JOIN emails e ON e.order_id = o.id AND e.kind = 'order_confirmation'
 WHERE o.id = ANY(%s::uuid[])
"""
_STAGES = ("webhook_received", "event_picked_up", "email_claimed", "email_delivered")


def _email_stages(services: Services, paid_at: dict[str, float], arrived: dict[str, float]):
    """p50/p99 ms of each stage from payment to confirmation email, over the paid orders
    whose email arrived."""
    wall = time.time() - time.monotonic()
    with psycopg.connect(services.postgres.url) as connection:
        rows = connection.execute(_STAGE_STAMPS, (list(paid_at),)).fetchall()
    spans: dict[str, list[float]] = {stage: [] for stage in _STAGES}
    for order, received, picked, claimed in rows:
        if order not in arrived or None in (received, picked, claimed):
            continue
        stamps = [paid_at[order] + wall, received, picked, claimed, arrived[order] + wall]
        for stage, start, end in zip(_STAGES, stamps, stamps[1:], strict=False):
            spans[stage].append(max(0.0, float(end) - float(start)))
    return {
        stage: {"p50_ms": quantile_ms(seconds, 0.5), "p99_ms": quantile_ms(seconds, 0.99)}
        for stage, seconds in spans.items()
    }


def _drain(services: Services, paid_at: dict[str, float]) -> float:
    """Wait until every paid order's confirmation arrived (up to ``DRAIN_SECONDS``); the
    seconds waited. The next rate starts on an empty backlog, and the CPU and the lag of
    this one include every email its orders cost."""
    started = time.monotonic()
    while time.monotonic() - started < DRAIN_SECONDS:
        if set(paid_at) <= set(_email_arrivals(services)):
            break
        time.sleep(0.5)
    return round(time.monotonic() - started, 1)


def _cpu(fleet: Fleet, services: Services) -> dict[str, float]:
    """CPU seconds so far of each process class, and of this process (the harness: load
    generator, Stripe sandbox, SMTP server)."""
    sessions = {name: popen.pid for name, popen in fleet.processes.items()}
    postmaster = int((services.postgres.data / "postmaster.pid").read_text().split()[0])
    by_session = session_cpu_seconds([*sessions.values(), postmaster])
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "web": by_session[sessions["web"]],
        "workers": sum(by_session[sessions[name]] for name in WORKERS),
        "schedulers": sum(by_session[sessions[name]] for name in SCHEDULERS),
        "postgres": by_session[postmaster],
        "redis": session_cpu_seconds([services.redis.process.pid])[services.redis.process.pid],
        "harness": usage.ru_utime + usage.ru_stime,
    }


def _cpu_report(
    before: dict[str, float], after: dict[str, float], *, paid: int, requests: int
) -> dict:
    """CPU per process class over a window, per paid order and per request answered (the
    steadier of the two when the machine is shared: a starved run pays fewer orders)."""
    spent = {name: after[name] - before[name] for name in before}
    fleet = sum(spent[name] for name in FLEET_CLASSES)
    per_order = {name: round(1000 * spent[name] / max(1, paid), 1) for name in spent}
    return {
        "cpu_s": {name: round(seconds, 2) for name, seconds in spent.items()},
        "fleet_cpu_s": round(fleet, 2),
        "cpu_ms_per_paid_order": per_order,
        "fleet_cpu_ms_per_paid_order": round(1000 * fleet / max(1, paid), 1),
        "cpu_ms_per_request": {n: round(1000 * spent[n] / max(1, requests), 2) for n in spent},
        "fleet_cpu_ms_per_request": round(1000 * fleet / max(1, requests), 2),
    }


def _bare_route(port: int) -> dict:
    request = f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    result = asyncio.run(closed_loop(port, [request], BARE_SECONDS, 8))
    return {
        "requests_per_s": round(len(result["latencies"]) / result["elapsed"], 1),
        "p50_ms": quantile_ms(result["latencies"], 0.5),
        "p99_ms": quantile_ms(result["latencies"], 0.99),
    }


def _one_rate(fleet: Fleet, services: Services, rate: float) -> dict:
    cpu_before = _cpu(fleet, services)
    load = Load(
        fleet.url, services.sandbox.url, buyers=max(2, int(4 * rate)), checkout_rate=rate,
        seconds=SECONDS,
    ).start()  # fmt: skip
    load.join()
    time.sleep(5)  # the last payments' emails
    pending = len(set(load.paid_at) - set(_email_arrivals(services)))
    drain_s = _drain(services, load.paid_at)
    cpu = _cpu_report(
        cpu_before, _cpu(fleet, services), paid=len(load.paid_at), requests=len(load.records)
    )
    endpoints = {}
    for name in sorted({r.endpoint for r in load.records}):
        seconds = [r.seconds for r in load.records if r.endpoint == name]
        endpoints[name] = {
            "count": len(seconds),
            "p50_ms": quantile_ms(seconds, 0.5),
            "p99_ms": quantile_ms(seconds, 0.99),
        }
    arrived = _email_arrivals(services)
    lags = [arrived[o] - t for o, t in load.paid_at.items() if o in arrived]
    summary = load.summary()
    return {
        "offered_checkouts_per_s": rate,
        "achieved_checkouts_per_s": summary["achieved_checkouts_per_s"],
        "requests_per_s": summary["requests_per_s"],
        "endpoints": endpoints,
        "payment_to_email_p99_ms": quantile_ms(lags, 0.99),
        "payment_to_email_stages": _email_stages(services, load.paid_at, arrived),
        "emails_pending_5s_after_window": pending,
        "drain_s": drain_s,
        "emails_missing": len(load.paid_at) - len(lags),
        "errors": sum(r.status == 0 or r.status >= 500 for r in load.records),
        "payments": summary["payments"],
        **cpu,
    }


def _knee(rates: list[dict], *, emails: bool) -> float | None:
    """The highest offered rate that met the criterion: achieved within 10 % of offered,
    checkout p99 under 1 s and no 5xx or unanswered request; with ``emails``, also
    payment→email p99 under 2 s and every confirmation sent once the backlog drained."""
    good = [
        r["offered_checkouts_per_s"]
        for r in rates
        if not r["errors"]
        and r["achieved_checkouts_per_s"] >= 0.9 * r["offered_checkouts_per_s"]
        and (r["endpoints"].get("checkout", {}).get("p99_ms") or 1e9) < 1000
        and (
            not emails or ((r["payment_to_email_p99_ms"] or 1e9) < 2000 and not r["emails_missing"])
        )
    ]
    return max(good) if good else None


def main() -> None:
    if PROFILE:
        thread_profile.install()
    services = Services(free_port(), proxied=PROXIED).start()
    fleet = Fleet(services)
    try:
        fleet.start()
        bare = _bare_route(fleet.port)
        if WARMUP_SECONDS:
            Load(fleet.url, services.sandbox.url, buyers=8, checkout_rate=2,
                 seconds=WARMUP_SECONDS).start().join()  # fmt: skip
            time.sleep(3)
        rates = [_one_rate(fleet, services, rate) for rate in RATES]
        report = {
            "seconds_per_rate": SECONDS,
            "cpus": os.cpu_count(),
            "proxied": PROXIED,
            "bare_route_healthz": bare,
            "rates": rates,
            "checkout_knee_checkouts_per_s": _knee(rates, emails=False),
            "knee_checkouts_per_s": _knee(rates, emails=True),
        }
        if PROFILE:
            thread_profile.dump(PROFILE)
        print(json.dumps(report, indent=2))
    finally:
        fleet.stop()
        services.stop()


if __name__ == "__main__":
    main()
