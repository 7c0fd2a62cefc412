"""gunicorn settings for the web process (``gunicorn -c web/gunicorn_conf.py``)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

bind = f"0.0.0.0:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# waitress inside gunicorn's workers (web/server.py): a request reaches a thread only
# once its head and body have arrived, so slow clients cannot hold the threads.
worker_class = "web.server.WaitressWorker"
threads = int(os.environ.get("WEB_THREADS", "8"))
worker_connections = int(os.environ.get("WEB_CONNECTIONS", "1000"))
timeout = 30
graceful_timeout = 20
keepalive = 5
accesslog = "-" if os.environ.get("WEB_ACCESS_LOG") else None
# gunicorn's control socket sits at one fixed path per user; two instances on one host
# (a second app, a benchmark, a test) would fight over it, and nothing here uses it.
control_socket_disable = True

# The web family's metrics (multiprocess mode); workers keep theirs in dramatiq_prom_db.
_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")


def on_starting(server):
    if _metrics_dir:
        # Files of a previous run would be summed into this one's counters.
        shutil.rmtree(_metrics_dir, ignore_errors=True)
        Path(_metrics_dir).mkdir(parents=True, exist_ok=True)


def post_worker_init(worker):
    # Most of a second of CPU (models/warehouses/geo.py), spent before the worker takes
    # requests rather than on its first checkout.
    from models.warehouses import geo

    geo.load_postal_codes()


def child_exit(server, worker):
    if _metrics_dir:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
