"""The processes ``cartfleet dev`` runs under honcho, its banner, and a graceful Ctrl-C."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shlex
import signal
import sys
import threading
import time
from pathlib import Path

import honcho.manager
from honcho.compat import ProcessManager
from honcho.environ import parse_procfile
from honcho.printer import Printer

from devtools.stripe_sandbox import SandboxControl, SandboxControlError

PROCFILE = Path(__file__).resolve().parents[1] / "Procfile"
PROCESSES = ("web", "worker", "scheduler", "realtime")
# Ctrl-C gives every process this long to finish what it is doing (in-flight jobs,
# requests: gunicorn's graceful_timeout is 20 s) before honcho kills what is left.
SHUTDOWN_GRACE_S = 30
ADMIN_ENTRY_POINTS = (
    "/admin/api/orders",
    "/admin/api/dead-letters",
    "/admin/api/webhooks/health",
    "/admin/api/schedules",
    "/admin/api/reconciliation",
)


def procfile_processes() -> dict[str, str]:
    """The Procfile's long-running processes, each run with ``exec``.

    ``exec`` leaves no shell between honcho and the process, so the SIGTERM reaches
    the process that handles it.
    """
    declared = parse_procfile(PROCFILE.read_text()).processes
    return {name: f"exec {declared[name]}" for name in PROCESSES}


def webhook_url(port: int) -> str:
    return f"http://127.0.0.1:{port}/webhooks/stripe"


# What webhook_url() makes for any port: how an endpoint of an earlier run is recognised.
EARLIER_RUN = re.compile(r"http://127\.0\.0\.1:\d+/webhooks/stripe")


def sandbox_command(sandbox_url: str, port: int, env: dict[str, str]) -> str:
    """The ``stripe`` process: the sandbox, keeping its state in var/, posting to the web."""
    secret = env["STRIPE_WEBHOOK_SECRET"].split(",")[0].strip()
    command = [
        "cartfleet",
        "stripe-sandbox",
        *("--port", sandbox_url.rsplit(":", 1)[1]),
        *("--state-dir", "var/stripe-sandbox"),
        *("--webhook", webhook_url(port), "--webhook-secret", secret),
    ]
    return "exec " + shlex.join(command)


def banner(
    env: dict[str, str], port: int, sandbox_url: str | None, *, login: tuple[str, str]
) -> str:
    base = f"http://localhost:{port}"
    admin = "\n".join(f"               {base}{path}" for path in ADMIN_ENTRY_POINTS)
    stripe = f"{sandbox_url}  (the local sandbox; docs/stripe-sandbox.md)"
    if not sandbox_url:
        stripe = env.get("STRIPE_API_BASE") or "api.stripe.com (STRIPE_API_KEY)"
    metrics = env.get("dramatiq_prom_port", "9191")
    secret = env.get("STRIPE_WEBHOOK_SECRET", "").split(",")[0] or "(unset)"
    realtime = env.get("REALTIME_URL", "ws://localhost:5001")
    return f"""
  storefront   {base}/
  JSON API     {base}/api/products, {base}/api/carts (README "Your first order")
  admin        {base}/admin/  log in as {login[0]} / {login[1]}
  admin API    Authorization: Bearer {env["ADMIN_TOKEN"]}
{admin}
  stripe       {stripe}
  webhooks     {webhook_url(port)}  secret {secret}
  worker       dramatiq worker.app, metrics on http://localhost:{metrics}
  live cart    {realtime}  (python -m realtime; docs/live-cart.md)
  mail         {env["MAIL_DIR"]}/new (maildir; one file per email)
  pay          in a second terminal: .venv/bin/cartfleet pay CF-100001
               (or --decline insufficient_funds); README "Your first order"
  Ctrl-C stops everything (in-flight jobs get {SHUTDOWN_GRACE_S} s).
"""


class _TerminateLeader(ProcessManager):
    """SIGTERM to the process honcho started, not to its whole process group.

    The Dramatiq master passes SIGTERM on to its worker processes; one that receives a
    second SIGTERM straight from honcho kills itself mid-job. SIGKILL, after the grace,
    still goes to the group.
    """

    def terminate(self, pid: int) -> None:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError as error:
            if error.errno not in (errno.EPERM, errno.ESRCH):
                raise


def _forget_other_endpoints(sandbox_url: str, port: int) -> None:
    """Drop the endpoints earlier runs on other ports registered (the sandbox keeps them)."""
    control = SandboxControl(sandbox_url, timeout=2)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, SandboxControlError):
            for endpoint in control.webhooks():
                url = endpoint["url"]
                if EARLIER_RUN.fullmatch(url) and url != webhook_url(port):
                    control.remove_webhook(endpoint["id"])
            return
        time.sleep(0.2)


def run(processes: dict[str, str], env: dict[str, str], *, sandbox_url: str | None, port: int):
    """Run ``processes`` under honcho until one stops or Ctrl-C; returns the exit status."""
    honcho.manager.KILL_WAIT = SHUTDOWN_GRACE_S  # honcho reads it on every shutdown tick
    manager = honcho.manager.Manager(Printer(sys.stdout, colour=sys.stdout.isatty()))
    manager._procmgr = _TerminateLeader()
    for name, command in processes.items():
        manager.add_process(name, command, env=env)
    if sandbox_url:
        threading.Thread(
            target=_forget_other_endpoints, args=(sandbox_url, port), daemon=True
        ).start()
    manager.loop()
    return manager.returncode
