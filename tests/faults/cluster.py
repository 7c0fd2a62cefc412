"""The dependencies of a fault run, each its own process or thread on 127.0.0.1.

``Services`` starts a PostgreSQL cluster (Debian's ``initdb`` / ``pg_ctl``, run as the
``postgres`` user when this process is root), a ``redis-server`` with an append-only
file, the Stripe sandbox and an aiosmtpd SMTP server, all under one temporary directory
that ``stop()`` removes. Every client of the fleet reaches them through its own
``FaultProxy`` (``proxies(group)``), so a scenario can break one dependency for everyone
or every dependency for one worker.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from devtools.embedded import free_port, port_open
from devtools.stripe_sandbox import SandboxServer
from tests.faults.proxy import FaultProxy
from tests.support.smtp_server import SMTPServer

HOST = "127.0.0.1"
DEPENDENCIES = ("postgres", "redis", "smtp", "stripe")
WEBHOOK_SECRET = "whsec_faults"
STRIPE_KEY = "sk_test_faults"
DATABASE = "cartfleet"


def _wait_port(port: int, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not port_open(HOST, port):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not listen on {port} within {timeout} s")
        time.sleep(0.05)


class Postgres:
    """A throwaway PostgreSQL cluster; ``restart()`` is a fast shutdown and a start."""

    def __init__(self, root: Path) -> None:
        binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not binaries:
            raise RuntimeError("Debian's PostgreSQL binaries are not installed")
        self.bin = Path(binaries[-1]).parent
        self.home = root / "postgres"  # data, log and socket, owned by the server's user
        self.data = self.home / "data"
        self.log = self.home / "postgres.log"
        self.port = free_port()
        self._as = []
        if os.geteuid() == 0:
            self._as = ["runuser", "-u", "postgres", "--"]
            root.chmod(0o755)

    def _run(self, *command: str) -> None:
        done = subprocess.run([*self._as, *command], capture_output=True, timeout=120)
        if done.returncode:
            log = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{command[0]} failed: {done.stderr.decode()[-2000:]}\n{log}")

    def start(self) -> Postgres:
        self.home.mkdir()
        if self._as:
            user = pwd.getpwnam("postgres")
            os.chown(self.home, user.pw_uid, user.pw_gid)
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres")
        self._ctl("start")
        createdb = str(self.bin / "createdb")
        self._run(createdb, "-h", HOST, "-p", str(self.port), "-U", "postgres", DATABASE)
        return self

    def _ctl(self, action: str) -> None:
        options = (
            f"-p {self.port} -k {self.home} -c listen_addresses={HOST} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
            "-m", "fast", "-w", "-t", "60", "-o", options, action,
        )  # fmt: skip

    def restart(self) -> None:
        self._ctl("restart")

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError, subprocess.SubprocessError):
            self._ctl("stop")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@{HOST}:{self.port}/{DATABASE}"


class Redis:
    """``redis-server`` with an append-only file; ``restart(empty=True)`` loses its data."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "redis"
        self.dir.mkdir()
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> Redis:
        command = ["redis-server", "--port", str(self.port), "--bind", HOST, "--dir", str(self.dir)]
        command += ["--appendonly", "yes", "--appendfsync", "always", "--save", ""]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _wait_port(self.port, "redis-server")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def restart(self, *, empty: bool = False) -> None:
        if empty and self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            shutil.rmtree(self.dir)
            self.dir.mkdir()
        self.stop()
        self.start()

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"


class Services:
    """PostgreSQL, Redis, the Stripe sandbox and SMTP, plus the proxies in front of them."""

    def __init__(self, web_port: int, *, proxied: bool = True) -> None:
        self.proxied = proxied  # False: clients connect straight (no faults, less harness CPU)
        self.root = Path(tempfile.mkdtemp(prefix="cartfleet-faults-"))
        self.web_port = web_port
        self.postgres = Postgres(self.root)
        self.redis = Redis(self.root)
        self.smtp = SMTPServer()
        self.sandbox = SandboxServer(
            retry_base_s=0.5,
            max_attempts=8,
            webhooks=[(f"http://{HOST}:{web_port}/webhooks/stripe", WEBHOOK_SECRET)],
            switches={"duplicate": True, "reorder": True},
        )
        self._proxies: dict[str, dict[str, FaultProxy]] = {}

    def start(self) -> Services:
        try:
            self.postgres.start()
            self.redis.start()
            self.smtp.start()
            self.sandbox.start()
        except BaseException:
            self.stop()
            raise
        return self

    def upstream(self, dependency: str) -> tuple[str, int]:
        ports = {
            "postgres": self.postgres.port,
            "redis": self.redis.port,
            "smtp": self.smtp.port,
            "stripe": int(self.sandbox.url.rsplit(":", 1)[1]),
        }
        return HOST, ports[dependency]

    def proxies(self, group: str) -> dict[str, FaultProxy]:
        """The proxies of one client ``group`` (``web``, ``worker-1``, ...), made on first use."""
        if group not in self._proxies:
            self._proxies[group] = {
                name: FaultProxy(f"{group}/{name}", self.upstream(name)) for name in DEPENDENCIES
            }
        return self._proxies[group]

    def set_mode(self, dependency: str, mode: str, *, groups: tuple[str, ...] = ()) -> None:
        """Switch ``dependency``'s proxy of every group (or of ``groups``) to ``mode``."""
        for group, proxies in self._proxies.items():
            if not groups or group in groups:
                proxies[dependency].set(mode)

    def environment(self, group: str) -> dict[str, str]:
        """The settings pointing one client group at its proxies (or at the services)."""
        if self.proxied:
            port = {name: proxy.port for name, proxy in self.proxies(group).items()}
        else:
            port = {name: self.upstream(name)[1] for name in DEPENDENCIES}
        return {
            "DATABASE_URL": (
                f"postgresql://postgres@{HOST}:{port['postgres']}/{DATABASE}?connect_timeout=5"
            ),
            "REDIS_URL": f"redis://{HOST}:{port['redis']}/0",
            "SMTP_URL": f"smtp://{HOST}:{port['smtp']}",
            "STRIPE_API_BASE": f"http://{HOST}:{port['stripe']}",
            "STRIPE_API_KEY": STRIPE_KEY,
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        }

    def stop(self) -> None:
        for proxies in self._proxies.values():
            for proxy in proxies.values():
                proxy.stop()
        for service in (self.sandbox, self.smtp):
            with contextlib.suppress(Exception):
                service.stop()
        self.redis.stop()
        self.postgres.stop()
        shutil.rmtree(self.root, ignore_errors=True)
