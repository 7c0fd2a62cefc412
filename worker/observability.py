"""Logging and Sentry set-up shared by the web, worker and scheduler processes."""

from __future__ import annotations

import logging

import sentry_sdk
from sentry_sdk.integrations.dramatiq import DramatiqIntegration
from sentry_sdk.integrations.flask import FlaskIntegration

from worker.settings import Settings

LOG_FORMAT = "[%(asctime)s] [PID %(process)d] [%(name)s] [%(levelname)s] %(message)s"


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level.upper(), format=LOG_FORMAT)


def init_sentry(settings: Settings) -> None:
    """Start Sentry when ``SENTRY_DSN`` is set; must run before the broker is built."""
    if not settings.sentry_dsn:
        return
    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.env,
        integrations=[FlaskIntegration(), DramatiqIntegration()],
        send_default_pii=False,
    )
