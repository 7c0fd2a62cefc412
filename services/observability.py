"""Logging and Sentry set-up shared by the web, worker and scheduler processes.

Sentry gets errors, the release and environment, a transaction per web request (the
Flask integration) and per actor run, and cron check-ins; the Dramatiq side is the
project's own middleware (services/tracing.py, worker/crons.py), added to the broker only
when Sentry is on. See docs/sentry.md.
"""

from __future__ import annotations

import importlib.metadata
import logging
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sentry_sdk
from sentry_sdk.integrations.flask import FlaskIntegration
from sentry_sdk.integrations.logging import LoggingIntegration

from services.settings import Settings

if TYPE_CHECKING:
    # Sentry declares its option shapes for type checkers only.
    from sentry_sdk._types import DataCollectionUserOptions

logger = logging.getLogger(__name__)

LOG_FORMAT = "[%(asctime)s] [PID %(process)d] [%(name)s] [%(levelname)s] %(message)s"
PROJECT_DIR = Path(__file__).resolve().parents[1]
# Polled by load balancers and Prometheus: a transaction for each would only use up quota.
UNTRACED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
# Shoppers' IP addresses, cookies (sessions, CSRF) and request bodies (emails, shipping
# addresses) never leave for Sentry; query strings and headers go with secrets scrubbed.
PRIVATE_DATA_COLLECTION: DataCollectionUserOptions = {
    "user_info": False,
    "cookies": {"mode": "off"},
    "http_bodies": [],
}


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level.upper(), format=LOG_FORMAT)
    logging.getLogger("dramatiq.worker.WorkerThread").addFilter(_recorded_results)


def _recorded_results(record: logging.LogRecord) -> bool:
    """Drop Dramatiq's warning about an actor's return value with no result backend.

    The periodic actors return the items they processed for ``worker.job_runs`` to record
    in ``job_runs``; that is where the value goes, so the warning every run is noise.
    """
    message = record.getMessage()
    return not (message.startswith("Actor '") and "returned a value that is not None" in message)


def release(settings: Settings) -> str:
    """``SENTRY_RELEASE``, else the commit checked out here, else the package version."""
    return settings.sentry_release or _git_commit() or f"cartfleet@{_package_version()}"


def _git_commit() -> str | None:
    if not (PROJECT_DIR / ".git").exists():  # an installed copy: do not find a parent's repo
        return None
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


def _package_version() -> str:
    try:
        return importlib.metadata.version("cartfleet")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def init_sentry(settings: Settings) -> bool:
    """Start Sentry when ``SENTRY_DSN`` is set; returns whether it did.

    Must run before the broker is built, which adds the Sentry middleware only then.
    """
    if not settings.sentry_dsn:
        return False
    rate = settings.sentry_traces_sample_rate or 0.0

    def traces_sampler(context: dict[str, Any]) -> float:
        environ = context.get("wsgi_environ") or {}
        if environ.get("PATH_INFO") in UNTRACED_PATHS:
            return 0.0
        parent = context.get("parent_sampled")
        return float(parent) if parent is not None else rate

    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.env,
        release=release(settings),
        traces_sampler=traces_sampler,
        integrations=[
            FlaskIntegration(),  # names each request by its URL rule, as 3.x always does
            # sentry-sdk 3 no longer enables it by default: errors logged at ERROR become
            # events and INFO lines breadcrumbs, as in 2.x; no log lines are sent as logs.
            LoggingIntegration(level=None, event_level=logging.ERROR),
        ],
        data_collection=PRIVATE_DATA_COLLECTION,
    )
    return True
