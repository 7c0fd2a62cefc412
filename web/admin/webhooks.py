"""Admin: health of the Stripe webhook inbox."""

from __future__ import annotations

import datetime as dt

import redis

from models import inbox
from models.db import Session
from web.admin import bp
from worker import dead_letters

WINDOW = dt.timedelta(hours=24)


@bp.get("/api/webhooks/health")
def webhooks_health():
    """Counts by status (last 24 h), failure rate, lag p50/p95, oldest unprocessed age."""
    with Session() as session:
        report = inbox.health(session, window=WINDOW)
    try:
        report["dead_letters"] = dead_letters.redis_count("webhooks")
    except redis.RedisError:
        report["dead_letters"] = None  # the inbox figures stand without Redis

    return report


__all__ = ["bp"]
