"""The fleet's Procfile processes, each pointed at its own proxies (cluster.Services).

``Fleet`` migrates the database (``alembic upgrade head``), seeds a catalogue through
the admin API, and runs web (gunicorn), two ``dramatiq worker.app`` workers and two
``cartfleet scheduler`` processes, each in a session of its own with its output in
``<root>/logs``. ``kill(name)`` SIGKILLs a process group and starts it again (a crashed
dyno replaced); ``freeze`` / ``thaw`` send SIGSTOP / SIGCONT.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from devtools.embedded import free_port
from tests.faults.cluster import HOST, Services

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ADMIN_TOKEN = "faults-admin-token"
WORKERS = ("worker-1", "worker-2")
SCHEDULERS = ("scheduler-1", "scheduler-2")
# sku -> (price in cents, units on hand at the start): a few scarce ones, so buyers race.
CATALOGUE = {f"SKU-{n:02d}": (500 + 250 * n, 6 if n < 3 else 400) for n in range(10)}
# Three warehouses (``main`` comes with the migrations, unplaced, shipping everywhere), so
# checkouts route and split; every sku's units are spread over them (``STOCK``).
WAREHOUSES = {
    "east": {"name": "East", "country": "US", "postal_code": "10001"},
    "west": {"name": "West", "country": "US", "postal_code": "94105"},
}
STOCK = {
    sku: {"east": units // 3, "west": units // 3, "main": units - 2 * (units // 3)}
    for sku, (_, units) in CATALOGUE.items()
}
_DROPPED = ("TEST_DATABASE_URL", "TEST_REDIS_URL", "PROMETHEUS_MULTIPROC_DIR", "SENTRY_DSN")


class Fleet:
    """web, two workers and two schedulers; ``start()`` / ``stop()``."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.port = services.web_port
        self.url = f"http://{HOST}:{self.port}"
        self.logs = services.root / "logs"
        self.logs.mkdir(exist_ok=True)
        self.processes: dict[str, subprocess.Popen] = {}

    def environment(self, name: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _DROPPED}
        env.update(self.services.environment(name))
        metrics = self.services.root / "metrics" / name
        (metrics / "db").mkdir(parents=True, exist_ok=True)
        env.update(
            CARTFLEET_ENV="development",
            ADMIN_TOKEN=ADMIN_TOKEN,
            SENTRY_DSN="",
            ALERT_WEBHOOK_URL="",
            LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",
            WEB_ACCESS_LOG="1",
            PROMETHEUS_MULTIPROC_DIR=str(metrics),
            dramatiq_prom_db=str(metrics / "db"),
            dramatiq_prom_port=str(free_port()),
            MAIL_DIR=str(self.services.root / "mail"),
            WEB_CONCURRENCY="2",
            WEB_THREADS="8",
            # The backfill every minute (not every 10), so a lost webhook is recovered
            # within the scenario's recovery deadline.
            STRIPE_BACKFILL_INTERVAL_MINUTES="1",
        )
        return env

    def _command(self, name: str) -> list[str]:
        if name == "web":
            return [
                sys.executable, "-m", "gunicorn", "-c", "web/gunicorn_conf.py",
                "--bind", f"{HOST}:{self.port}", "web:create_app()",
            ]  # fmt: skip
        if name in WORKERS:
            return [
                sys.executable, "-m", "dramatiq", "worker.app",
                "--processes", "1", "--threads", "4",
            ]  # fmt: skip
        # The `cartfleet` entry point, also where the project is on the path, not installed.
        return [sys.executable, "-c", "from cli import main; main()", "scheduler"]

    def spawn(self, name: str) -> None:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it
        self.processes[name] = subprocess.Popen(
            self._command(name),
            cwd=ROOT,
            env=self.environment(name),
            start_new_session=True,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    def migrate(self) -> None:
        env = self.environment("release")
        env["DATABASE_URL"] = self.services.postgres.url
        subprocess.run(
            [str(BIN / "alembic"), "upgrade", "head"],
            cwd=ROOT, env=env, check=True, capture_output=True, timeout=120,
        )  # fmt: skip

    def seed(self) -> None:
        auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        for code, fields in WAREHOUSES.items():
            response = requests.post(
                f"{self.url}/admin/api/warehouses", json={"code": code, **fields},
                headers=auth, timeout=10,
            )  # fmt: skip
            if response.status_code != 409:  # a restarted seed finds it there
                response.raise_for_status()
        for sku, (price, _) in CATALOGUE.items():
            response = requests.put(
                f"{self.url}/admin/api/products/{sku}",
                json={"name": f"Item {sku}", "price_cents": price, "currency": "usd",
                      "stock": STOCK[sku]},
                headers=auth,
                timeout=10,
            )  # fmt: skip
            response.raise_for_status()

    def start(self) -> Fleet:
        self.migrate()
        for name in ("web", *WORKERS, *SCHEDULERS):
            self.spawn(name)
        self.wait_ready()
        self.seed()
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"the web did not become ready; see {self.logs}/web.log")

    def signal(self, name: str, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.processes[name].pid, signum)

    def kill(self, name: str) -> None:
        """SIGKILL ``name``'s whole process group, then start it again."""
        self.signal(name, signal.SIGKILL)
        self.processes[name].wait(timeout=10)
        self.spawn(name)

    def freeze(self, name: str) -> None:
        self.signal(name, signal.SIGSTOP)

    def thaw(self, name: str) -> None:
        self.signal(name, signal.SIGCONT)

    def stop(self) -> None:
        for name in self.processes:
            self.signal(name, signal.SIGCONT)
            self.signal(name, signal.SIGTERM)
        for name, process in self.processes.items():
            try:
                process.wait(timeout=25)
            except subprocess.TimeoutExpired:
                self.signal(name, signal.SIGKILL)
                process.wait(timeout=10)
