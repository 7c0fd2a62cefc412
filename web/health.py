"""Liveness, readiness and the Prometheus exposition of the web process family."""

from __future__ import annotations

import logging
import os

from flask import Blueprint, Response, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import text

from models import db
from services.redis_broker import redis_broker

logger = logging.getLogger(__name__)

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}


def _check_database() -> str:
    try:
        with db.engine().connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:
        logger.warning("Readiness: database check failed: %s", error)
        return "unavailable"
    return "ok"


def _check_redis() -> str:
    try:
        redis_broker().client.ping()
    except Exception as error:
        logger.warning("Readiness: redis check failed: %s", error)
        return "unavailable"
    return "ok"


@bp.get("/readyz")
def readyz():
    checks = {"database": _check_database(), "redis": _check_redis()}
    healthy = all(result == "ok" for result in checks.values())
    body = {"status": "ok" if healthy else "unavailable", "checks": checks}
    if not healthy:
        failing = ", ".join(name for name, result in checks.items() if result != "ok")
        body.update(error="unavailable", message=f"Not ready: {failing} unavailable.")
    return jsonify(body), 200 if healthy else 503


@bp.get("/metrics")
def metrics():
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
