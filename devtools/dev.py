"""``cartfleet dev``: the whole fleet on one machine, on embedded servers if need be.

PostgreSQL, Redis and Stripe are the environment's when ``DATABASE_URL``, ``REDIS_URL``
and ``STRIPE_API_KEY`` are set; otherwise an embedded PostgreSQL and Redis and the
local Stripe sandbox (a ``stripe`` process beside the Procfile's) stand in, with their
data under ``var/``. ``var/dev.env`` tells a second terminal's ``cartfleet`` where they
are, for as long as this command runs.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import click

from devtools import demo_photos, embedded, fleet
from services.settings import DEV_ENV_FILE

VAR = Path("var")
CARTFLEET = str(Path(sys.executable).parent / "cartfleet")
SANDBOX_PORT = 12111
DEMO_OWNER = "admin@cartfleet.local"
SANDBOX_KEYS = {
    "STRIPE_API_KEY": "sk_test_cartfleet_local",
    "STRIPE_PUBLISHABLE_KEY": "pk_test_cartfleet_local",
}
# What a second terminal needs to reach this run's services.
RECORDED = (
    "DATABASE_URL",
    "REDIS_URL",
    "STRIPE_API_KEY",
    "STRIPE_PUBLISHABLE_KEY",
    "STRIPE_API_BASE",
    "STRIPE_WEBHOOK_SECRET",
    "ADMIN_TOKEN",
    "MAIL_DIR",
    "REALTIME_URL",
)


def _kept_secret(name: str, make) -> str:
    """A secret made on the first run and kept under ``var/`` (never committed)."""
    path = VAR / name
    if not path.exists():
        path.write_text(make())
    return path.read_text().strip()


def _sandbox_port() -> int:
    # The usual port when it is free, so the sandbox's URL stays the same across runs.
    if embedded.port_open("127.0.0.1", SANDBOX_PORT):
        return embedded.free_port()
    return SANDBOX_PORT


def _demo_owner(env: dict[str, str]) -> str:
    """The demo owner's password (the staff user is created on the first run)."""
    password = _kept_secret("admin_password", lambda: secrets.token_urlsafe(12))
    subprocess.run(
        [CARTFLEET, "admin", "create-user", DEMO_OWNER, "--role", "owner", "--password-stdin"],
        env=env,
        input=password + "\n",
        text=True,
        capture_output=True,  # "already exists" on every later run
        check=False,
    )
    return password


def _write_dev_env(env: dict[str, str]) -> None:
    lines = [f"{name}={env[name]}" for name in RECORDED if env.get(name)]
    DEV_ENV_FILE.touch(mode=0o600)  # it holds the admin token and the webhook secret
    header = "# Written by `make run` while it runs; removed when it stops.\n"
    DEV_ENV_FILE.write_text(header + "\n".join(lines) + "\n")


def _environment(port: int, redis: list[subprocess.Popen]) -> tuple[dict[str, str], str | None]:
    """The processes' environment; the sandbox's URL when it stands in for Stripe."""
    env = dict(os.environ)
    if not env.get("DATABASE_URL"):
        click.echo("DATABASE_URL unset: starting embedded PostgreSQL in var/pg ...")
        env["DATABASE_URL"] = embedded.start_postgres(VAR / "pg", stop_at_exit=True)
    if not env.get("REDIS_URL"):
        click.echo("REDIS_URL unset: starting embedded Redis in var/redis ...")
        process, env["REDIS_URL"] = embedded.start_redis(VAR / "redis")
        redis.append(process)
    sandbox_url = None
    if not env.get("STRIPE_API_KEY"):
        sandbox_url = f"http://127.0.0.1:{_sandbox_port()}"
        click.echo(f"STRIPE_API_KEY unset: the Stripe sandbox stands in on {sandbox_url}")
        env.update(SANDBOX_KEYS, STRIPE_API_BASE=sandbox_url)
        env.setdefault(
            "STRIPE_WEBHOOK_SECRET",
            _kept_secret("webhook_secret", lambda: "whsec_" + secrets.token_hex(24)),
        )
    env.setdefault("ADMIN_TOKEN", _kept_secret("admin_token", lambda: secrets.token_urlsafe(24)))
    # Every web process must sign sessions with the same key.
    env.setdefault("SECRET_KEY", _kept_secret("secret_key", lambda: secrets.token_hex(32)))
    # Metric files of an earlier run would be summed into this one's counters.
    shutil.rmtree(VAR / "metrics", ignore_errors=True)
    for name, family in (("PROMETHEUS_MULTIPROC_DIR", "web"), ("dramatiq_prom_db", "worker")):
        # Created now: gunicorn imports the app (and its metrics) before its own hooks run.
        (VAR / "metrics" / family).mkdir(parents=True)
        env.setdefault(name, str((VAR / "metrics" / family).resolve()))
    env.setdefault("MAIL_DIR", str((VAR / "mail").resolve()))
    env.setdefault("TZ", "UTC")
    env["DEMO_STOREFRONT"] = "true"
    # Links in emails and cart recovery lead to the demo storefront of this run.
    env.setdefault("STOREFRONT_URL", f"http://localhost:{port}")
    env.setdefault("PUBLIC_URL", f"http://localhost:{port}")
    env["PORT"] = str(port)
    # The live-cart gateway beside the web: PORT + 1 unless set.
    env.setdefault("REALTIME_PORT", str(port + 1))
    env.setdefault("REALTIME_URL", f"ws://localhost:{env['REALTIME_PORT']}")
    bin_dir = Path(sys.executable).parent
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return env, sandbox_url


@click.command()
@click.option(
    "--port", default=5000, show_default=True, envvar="PORT", help="Port of the web process."
)
def dev(port: int) -> None:
    """Migrate, seed, and run the Procfile's web, worker, scheduler and realtime gateway
    (and the sandbox)."""
    VAR.mkdir(exist_ok=True)
    redis: list[subprocess.Popen] = []
    try:
        env, sandbox_url = _environment(port, redis)
        _write_dev_env(env)
        subprocess.run([CARTFLEET, "migrate"], env=env, check=True)
        subprocess.run([CARTFLEET, "seed-demo"], env=env, check=True)
        login = (DEMO_OWNER, _demo_owner(env))
        processes = fleet.procfile_processes()
        if sandbox_url:
            processes["stripe"] = fleet.sandbox_command(sandbox_url, port, env)
        click.echo(fleet.banner(env, port, sandbox_url, login=login))
        # The demo catalogue's photos go through the admin's upload and the media job,
        # as a shop's own would, once the web answers.
        threading.Thread(
            target=demo_photos.upload_when_ready,
            args=(f"http://127.0.0.1:{port}", env["ADMIN_TOKEN"]),
            daemon=True,
        ).start()
        returncode = fleet.run(processes, env, sandbox_url=sandbox_url, port=port)
    finally:
        with contextlib.suppress(FileNotFoundError):
            DEV_ENV_FILE.unlink()
        for process in redis:
            process.terminate()
            process.wait(timeout=10)
        # The embedded PostgreSQL stops at exit (start_postgres(stop_at_exit=True)).
    sys.exit(returncode)
