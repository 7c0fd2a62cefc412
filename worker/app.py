"""Entry point of the worker and scheduler processes: ``dramatiq worker.app``.

Points the project's metrics at Dramatiq's metrics directory, then starts the process
like every entry point does (``worker.bootstrap``), which imports every actor.
"""

from __future__ import annotations

import os

# Dramatiq's exposition server (a process forked by the dramatiq CLI) serves the files in
# this directory (``dramatiq_prom_db``, default ``$TMPDIR/dramatiq-prometheus``); the
# project's own metrics must be written there too, so prometheus_client has to see it
# before it is first imported. Its exporter listens on loopback unless told otherwise:
# the metrics are for the machine's Prometheus agent, not for the network.
os.environ.setdefault("dramatiq_prom_host", "127.0.0.1")

from dramatiq.middleware.prometheus import DB_PATH

os.environ["PROMETHEUS_MULTIPROC_DIR"] = DB_PATH

from worker import bootstrap
from worker.broker import broker

bootstrap.start()

__all__ = ["broker"]
