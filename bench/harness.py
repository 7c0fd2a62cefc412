"""What the HTTP benchmarks (checkout.py, webhooks.py) share.

A closed-loop asyncio HTTP/1.1 client on keep-alive connections, the latency quantile the
reports give, and the processes around them: starting a command (gunicorn with the
project's settings, web/gunicorn_conf.py) from the repository root in a session of its
own, waiting until it answers, stopping it, and reading child pids, CPU seconds and RSS
from /proc.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"


# --- HTTP client -----------------------------------------------------------------------


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes, bool]:
    """Send one request, read one response: (status, body, server keeps the connection)."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, body, headers.get("connection", "").lower() != "close"


async def closed_loop(
    port: int, requests: list[bytes], seconds: float | None, connections: int
) -> dict:
    """Each of ``connections`` sends its next request when the last one answered.

    Runs for ``seconds`` (cycling through ``requests``) or, when that is None, until every
    request was sent once. Returns the latencies, the statuses and the elapsed seconds.
    """
    latencies: list[float] = []
    statuses: list[int] = []
    cursor = itertools.count()
    deadline = None if seconds is None else time.perf_counter() + seconds

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while deadline is None or time.perf_counter() < deadline:
                index = next(cursor)
                if deadline is None and index >= len(requests):
                    return
                start = time.perf_counter()
                status, _, keep = await exchange(reader, writer, requests[index % len(requests)])
                latencies.append(time.perf_counter() - start)
                statuses.append(status)
                if not keep:
                    writer.close()
                    reader, writer = await asyncio.open_connection(HOST, port)
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    return {"latencies": latencies, "statuses": statuses, "elapsed": time.perf_counter() - started}


def quantile_ms(values: list[float], quantile: float) -> float | None:
    """The ``quantile`` of ``values`` (seconds) in milliseconds, to 0.01; None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(quantile * len(ordered)))] * 1000, 2)


# --- processes -------------------------------------------------------------------------


def fleet_env(
    database_url: str, redis_url: str, stripe_url: str, **overrides: str
) -> dict[str, str]:
    """The environment of a benchmark's web and workers: this process's, with its own
    database and Redis db, the Stripe sandbox at ``stripe_url``, quiet logs and no Sentry;
    ``overrides`` win."""
    return {
        **os.environ,
        "CARTFLEET_ENV": "bench",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "STRIPE_API_BASE": stripe_url,
        "STRIPE_API_KEY": "sk_test_bench",
        "STRIPE_WEBHOOK_SECRET": "whsec_bench",
        "ADMIN_TOKEN": "bench-admin-token",
        "LOG_LEVEL": "WARNING",
        "SENTRY_DSN": "",
        **overrides,
    }


def spawn(command: list[str], env: Mapping[str, str], *, quiet: bool = True) -> subprocess.Popen:
    """Start ``command`` in the repository root, in a session of its own (for ``stop``).

    ``quiet`` discards its output; otherwise it shares this process's.
    """
    output = subprocess.DEVNULL if quiet else None
    return subprocess.Popen(
        command, cwd=ROOT, env=env, start_new_session=True, stdout=output, stderr=output
    )


def gunicorn(
    app_spec: str,
    port: int,
    env: Mapping[str, str],
    *,
    pythonpath: str | None = None,
    options: Sequence[str] = (),
    quiet: bool = True,
) -> subprocess.Popen:
    """Serve ``app_spec`` on ``port`` with the project's settings (web/gunicorn_conf.py).

    ``options`` are further gunicorn flags, which win over the settings file
    (``--worker-class gthread`` for the previous server setup).
    """
    command = [sys.executable, "-m", "gunicorn", "-c", "web/gunicorn_conf.py"]
    command += ["--bind", f"{HOST}:{port}", *options]
    if pythonpath:
        command += ["--pythonpath", pythonpath]
    return spawn([*command, app_spec], env, quiet=quiet)


def _ready(port: int, path: str | None) -> bool:
    if path is None:
        from devtools.embedded import port_open

        return port_open(HOST, port)
    import requests

    try:
        return requests.get(f"http://{HOST}:{port}{path}", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def wait_ready(port: int, path: str | None = None, timeout: float = 60) -> None:
    """Return once something listens on ``port`` and, given ``path``, answers its GET with 200."""
    deadline = time.monotonic() + timeout
    while not _ready(port, path):
        if time.monotonic() > deadline:
            raise RuntimeError(f"nothing ready on port {port}")
        time.sleep(0.1)


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the process group of ``process`` (from ``spawn``), SIGKILL after 30 s."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _stat(pid: int) -> list[str]:
    """The fields of /proc/{pid}/stat after the command name (state first)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def children(pid: int) -> list[int]:
    """The pids whose parent is ``pid``, sorted."""
    found = []
    for entry in Path("/proc").glob("[0-9]*/stat"):
        candidate = int(entry.parent.name)
        with contextlib.suppress(OSError, IndexError):
            if int(_stat(candidate)[1]) == pid:
                found.append(candidate)
    return sorted(found)


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU seconds of ``pids`` so far (a pid gone counts nothing)."""
    ticks = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError):
            fields = _stat(pid)
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def session_cpu_seconds(leaders: Iterable[int]) -> dict[int, float]:
    """CPU seconds (user + system, with the reaped children's) of each process tree under
    ``leaders``: the processes of a leader's session and their descendants (PostgreSQL's
    backends are the postmaster's children)."""
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError):
            stats[int(entry.parent.name)] = _stat(int(entry.parent.name))
    totals = {}
    for leader in leaders:
        members = {leader} | {pid for pid, fields in stats.items() if int(fields[3]) == leader}
        grown = True
        while grown:
            more = {pid for pid, fields in stats.items() if int(fields[1]) in members}
            grown = not more <= members
            members |= more
        ticks = sum(
            sum(int(stats[pid][i]) for i in (11, 12, 13, 14)) for pid in members if pid in stats
        )
        totals[leader] = ticks / os.sysconf("SC_CLK_TCK")
    return totals


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def peak_rss_kb() -> int:
    """This process's peak RSS (VmHWM: unlike ru_maxrss, not inherited across exec)."""
    status = Path("/proc/self/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")))


def rss(process: subprocess.Popen, *, children_key: str = "children_mib") -> dict:
    """RSS in MiB of ``process`` (``master_mib``) and of each of its children."""
    return {
        "master_mib": _rss_mib(process.pid),
        children_key: [_rss_mib(pid) for pid in children(process.pid)],
    }


def provision_database(label: str) -> tuple[str, str]:
    """A new empty database on the test PostgreSQL; returns (url, admin libpq url)."""
    import uuid

    import psycopg
    from sqlalchemy.engine import make_url

    from tests.support import services

    admin_url, _ = services._postgres_admin_url()
    name = f"cartfleet_bench_{label}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = services._libpq(admin_url)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False), admin


def drop_database(url: str, admin: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
