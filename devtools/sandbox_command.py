"""``cartfleet stripe-sandbox``: the local Stripe (devtools/stripe_sandbox) as a process."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import click

from services.settings import get_settings


def _endpoints(urls: tuple[str, ...], secrets: tuple[str, ...]) -> list[tuple[str, str]]:
    # One secret per --webhook in order; a missing one falls back to the fleet's own.
    fallback = (get_settings().stripe_webhook_secret or [None])[0]
    if len(secrets) > len(urls):
        raise click.BadParameter("more secrets than webhooks", param_hint="--webhook-secret")
    paired = []
    for index, url in enumerate(urls):
        secret = secrets[index] if index < len(secrets) else fallback
        if not secret:
            raise click.BadParameter(
                f"no secret for {url} (and STRIPE_WEBHOOK_SECRET is unset)",
                param_hint="--webhook-secret",
            )
        paired.append((url, secret))
    return paired


@click.command("stripe-sandbox")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=12111, show_default=True, type=click.IntRange(min=0))
@click.option(
    "--state-dir",
    default="var/stripe-sandbox",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where objects, events and deliveries are kept across restarts.",
)
@click.option("--memory", is_flag=True, help="Keep the state in memory only.")
@click.option("--webhook", "webhooks", multiple=True, help="Endpoint URL (repeatable).")
@click.option(
    "--webhook-secret",
    "webhook_secrets",
    multiple=True,
    help="Signing secret of the matching --webhook [default: first of STRIPE_WEBHOOK_SECRET].",
)
@click.option("--retry-base", default=1.0, show_default=True, help="First retry delay (s).")
@click.option("--max-attempts", default=8, show_default=True, type=click.IntRange(min=1))
@click.option("--duplicate", is_flag=True, help="Deliver every event twice.")
@click.option("--reorder", is_flag=True, help="Deliver events out of order.")
@click.option("--drop", is_flag=True, help="Record deliveries as failed without sending.")
@click.option("--paused", is_flag=True, help="Hold deliveries until resumed (control API).")
@click.option("--delay", "delay_s", default=0.0, help="Delay before the first attempt (s).")
def stripe_sandbox(
    host: str,
    port: int,
    state_dir: Path,
    memory: bool,
    webhooks: tuple[str, ...],
    webhook_secrets: tuple[str, ...],
    retry_base: float,
    max_attempts: int,
    **switches: bool | float,
) -> None:
    """Serve a stateful Stripe test API with signed webhook delivery (docs/stripe-sandbox.md)."""
    from devtools.stripe_sandbox import SandboxServer

    server = SandboxServer(
        None if memory else state_dir,
        host,
        port,
        webhooks=_endpoints(webhooks, webhook_secrets),
        switches=switches,
        retry_base_s=retry_base,
        max_attempts=max_attempts,
    ).start()
    stopped = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopped.set())
    click.echo(f"Stripe sandbox on {server.url} (STRIPE_API_BASE={server.url})")
    for url, _ in server.webhooks:
        click.echo(f"  webhooks → {url}")
    stopped.wait()
    server.stop()
