"""Entry point of the worker and scheduler processes: ``dramatiq worker.app``.

Points the project's metrics at Dramatiq's metrics directory, binds the database and
imports every actor (which builds the broker).
"""

from __future__ import annotations

import os

# Dramatiq's exposition server (a process forked by the dramatiq CLI) serves the files in
# this directory (``dramatiq_prom_db``, default ``$TMPDIR/dramatiq-prometheus``); the
# project's own metrics must be written there too, so prometheus_client has to see it
# before it is first imported.
from dramatiq.middleware.prometheus import DB_PATH

os.environ["PROMETHEUS_MULTIPROC_DIR"] = DB_PATH

import jobs
from models import db
from worker.broker import broker
from worker.observability import configure_logging
from worker.settings import get_settings

_settings = get_settings()
configure_logging(_settings)
db.configure(_settings.database_url)

__all__ = ["broker", "jobs"]
