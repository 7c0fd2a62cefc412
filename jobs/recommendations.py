"""Recommendation actors: the nightly item-to-item rebuild, and recording product views.

The rebuild runs on one connection (its temporary basket tables live there) in one short
transaction per batch of anchor products (models/recommendations/build.py), behind a
PostgreSQL advisory lock, so two schedulers, a manual run and a nightly run never build
at once. Its int result is the products given neighbours, recorded in ``job_runs``.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

import dramatiq
from periodiq import cron

from models import db
from models.base import utcnow
from models.db import Session
from models.recommendations import build, views

logger = logging.getLogger(__name__)

REBUILD_JOB = "rebuild_recommendations"


@dataclass(frozen=True)
class RebuildResult:
    ran: bool  # False: another rebuild held the lock
    products: int = 0  # products bought (bestsellers written)
    neighbours: int = 0  # neighbour rows written
    anchors: int = 0  # products with at least one neighbour
    seconds: float = 0.0


def rebuild(settings: build.BuildSettings | None = None) -> RebuildResult:
    """Rebuild every product's neighbours and the bestsellers from paid orders."""
    settings = settings or build.BuildSettings()
    started = time.monotonic()
    built_at = utcnow()
    with db.engine().connect() as connection:
        build.configure_session(connection)
        locked = build.try_lock(connection)
        connection.commit()
        if not locked:
            build.reset_session(connection)
            connection.commit()
            logger.info("Another recommendations rebuild is running; this one stops")
            return RebuildResult(ran=False)
        try:
            with connection.begin():
                products = build.stage_pairs(connection, min_support=settings.min_support)
            with connection.begin():
                build.write_sales(connection, built_at=built_at)
            written = 0
            for first, last in build.anchor_batches(products, batch_size=settings.batch_size):
                with connection.begin():
                    written += build.build_batch(
                        connection, first=first, last=last, settings=settings, built_at=built_at
                    )
            with connection.begin():
                build.drop_stale(connection, built_at=built_at)
                anchors = build.anchor_count(connection)
        finally:
            # The connection goes back to the pool: no lock, temporary table or setting
            # of this run may stay on it.
            connection.rollback()
            build.drop_staging(connection)
            build.unlock(connection)
            build.reset_session(connection)
            connection.commit()
    result = RebuildResult(True, products, written, anchors, time.monotonic() - started)
    logger.info("Recommendations rebuilt: %s", result)
    return result


@dramatiq.actor(
    actor_name=REBUILD_JOB,
    queue_name="maintenance",
    periodic=cron("0 4 * * *"),
    max_retries=0,  # a missed night is caught up when the scheduler starts
    time_limit=900_000,
)
def rebuild_recommendations() -> int:
    """Rebuild the recommendation neighbours (nightly, and by hand from admin or CLI)."""
    return rebuild().anchors


@dramatiq.actor(
    actor_name="record_product_view",
    queue_name="carts",
    max_retries=10,
    min_backoff=1_000,
    max_backoff=300_000,
    time_limit=30_000,
)
def record_product_view(
    visitor_id: str, sku: str, email: str | None, at: str, source_id: str
) -> None:
    """Store one product view; ``source_id`` makes a redelivery a no-op."""
    with Session.begin() as session:
        views.record(
            session,
            visitor_id=visitor_id,
            sku=sku,
            email=email,
            viewed_at=dt.datetime.fromisoformat(at),
            source_id=source_id,
        )
