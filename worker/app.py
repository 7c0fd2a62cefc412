"""Entry point of the worker and scheduler processes: ``dramatiq worker.app``.

Points metrics at the worker family's directory, binds the database and imports every
actor (which builds the broker).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from worker.settings import get_settings

_settings = get_settings()
# Every worker process writes its metrics (Dramatiq's and the project's) to one
# multiprocess directory that Dramatiq's exposition server reads. Both variables must
# be set before prometheus_client is first imported.
_metrics_base = _settings.prometheus_multiproc_dir or tempfile.gettempdir()
_metrics_dir = str(Path(_metrics_base) / "cartfleet-worker-metrics")
os.makedirs(_metrics_dir, exist_ok=True)
os.environ["dramatiq_prom_db"] = os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir

import jobs
from models import db
from worker.broker import broker
from worker.observability import configure_logging

configure_logging(_settings)
db.configure(_settings.database_url)

__all__ = ["broker", "jobs"]
