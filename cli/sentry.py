"""``cartfleet sentry test``: prove that errors reach Sentry, from backend and storefront."""

from __future__ import annotations

import click
import sentry_sdk

from services import observability
from services.settings import get_settings

STOREFRONT_TRIGGER = "?sentry_test=1"  # web/static/errors.js throws its test errors on it


class SentryTestError(Exception):
    """The error `cartfleet sentry test` sends: its own type, so an alert rule can skip it."""


@click.group()
def sentry() -> None:
    """Sentry commands (docs/sentry.md)."""


@sentry.command("test")
def send_test() -> None:
    """Send a test error from the backend to Sentry; say how to send the storefront's."""
    settings = get_settings()
    observability.configure_logging(settings)
    if not observability.init_sentry(settings):
        raise click.ClickException("SENTRY_DSN is not set: the backend sends nothing to Sentry")
    release = observability.release(settings)
    try:
        raise SentryTestError(f"cartfleet sentry test: backend ({release})")
    except SentryTestError as error:
        event_id = sentry_sdk.capture_exception(error)
    sentry_sdk.flush(timeout=10)
    click.echo(
        f"Backend: sent SentryTestError, event {event_id}, "
        f"release {release}, environment {settings.env}."
    )
    page = f"{settings.public_url.rstrip('/')}/{STOREFRONT_TRIGGER}"
    if settings.sentry_browser_dsn and settings.demo_storefront:
        click.echo(
            f"Storefront: open {page} in a browser. The page throws "
            "'cartfleet sentry test: storefront error' and an unhandled rejection, "
            "reported with the same release and environment."
        )
    else:
        click.echo(
            "Storefront: the pages report nothing: set SENTRY_BROWSER_DSN (and "
            f"DEMO_STOREFRONT for the demo pages), restart the web, then open {page}."
        )
