"""``cartfleet dev``: the whole fleet on one machine, on embedded servers if need be."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import click

from worker import embedded

VAR = Path("var")
PROCESSES = ("web", "worker", "scheduler")


DEMO_OWNER = "admin@cartfleet.local"


def _kept_secret(name: str) -> str:
    """A random secret kept under var/, so a second run finds the same one."""
    path = VAR / name
    if not path.exists():
        path.write_text(secrets.token_urlsafe(24))
    return path.read_text().strip()


def _admin_token() -> str:
    return _kept_secret("admin_token")


def _demo_owner(env: dict[str, str], cartfleet: str) -> str:
    """The demo owner's password (the user is created on the first run)."""
    password = _kept_secret("admin_password")
    subprocess.run(
        [cartfleet, "admin", "create-user", DEMO_OWNER, "--role", "owner", "--password-stdin"],
        env=env,
        input=password + "\n",
        text=True,
        capture_output=True,  # "already exists" on every later run
        check=False,
    )
    return password


def _run(env: dict[str, str], *command: str) -> None:
    subprocess.run(command, env=env, check=True)


@click.command()
@click.option("--port", default=5000, show_default=True, help="Port of the web process.")
def dev(port: int) -> None:
    """Migrate, seed and run web + worker + scheduler from the Procfile (honcho)."""
    VAR.mkdir(exist_ok=True)
    env = dict(os.environ)
    children = []
    if not env.get("DATABASE_URL"):
        click.echo("DATABASE_URL unset: starting embedded PostgreSQL in var/pg ...")
        env["DATABASE_URL"] = embedded.start_postgres(VAR / "pg")
    if not env.get("REDIS_URL"):
        click.echo("REDIS_URL unset: starting embedded Redis in var/redis ...")
        process, env["REDIS_URL"] = embedded.start_redis(VAR / "redis")
        children.append(process)
    env.setdefault("ADMIN_TOKEN", _admin_token())
    # Every web process must sign sessions with the same key.
    env.setdefault("SECRET_KEY", _kept_secret("secret_key"))
    # Metric files of an earlier run would be summed into this one's counters.
    shutil.rmtree(VAR / "metrics", ignore_errors=True)
    env.setdefault("PROMETHEUS_MULTIPROC_DIR", str((VAR / "metrics" / "web").resolve()))
    env.setdefault("dramatiq_prom_db", str((VAR / "metrics" / "worker").resolve()))
    env.setdefault("MAIL_DIR", str((VAR / "mail").resolve()))
    env.setdefault("STRIPE_WEBHOOK_SECRET", "whsec_cartfleet_dev")
    env.setdefault("TZ", "UTC")
    env["PORT"] = str(port)
    bin_dir = Path(sys.executable).parent
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"

    try:
        _run(env, str(bin_dir / "cartfleet"), "migrate")
        _run(env, str(bin_dir / "cartfleet"), "seed-demo")
        password = _demo_owner(env, str(bin_dir / "cartfleet"))
        click.echo(
            f"\n  web      http://localhost:{port}  (readyz: /readyz, metrics: /metrics)"
            f"\n  admin    http://localhost:{port}/admin/  log in: {DEMO_OWNER} / {password}"
            f"\n           API token: {env['ADMIN_TOKEN']}"
            "\n  worker   dramatiq worker.app  (metrics: http://localhost:9191)"
            "\n  mail     var/mail (maildir)\n  Ctrl-C stops everything.\n"
        )
        honcho = subprocess.Popen([str(bin_dir / "honcho"), "start", *PROCESSES], env=env)
        # Ctrl-C reaches honcho through the terminal; a plain SIGTERM to this process is
        # passed on so honcho still stops every child.
        signal.signal(signal.SIGTERM, lambda *_: honcho.terminate())
        try:
            honcho.wait()
        except KeyboardInterrupt:
            honcho.wait()
    finally:
        for child in children:
            child.terminate()
            child.wait(timeout=10)
