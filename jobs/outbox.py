"""Periodic delivery of outbox rows that never reached Redis, or that Redis lost."""

from __future__ import annotations

import dramatiq
from periodiq import cron

from services import outbox, redis_loss


@dramatiq.actor(
    actor_name="relay_outbox",
    queue_name="maintenance",
    periodic=cron("* * * * *"),
    max_retries=0,  # the next minute's run is the retry
    time_limit=60_000,
)
def relay_outbox() -> int:
    """Push every unsent outbox row, oldest first, in bounded batches.

    First, when Redis lost its data since the last run, the jobs pushed within the last
    hour are pushed again (services/redis_loss.py).
    """
    return redis_loss.resend_if_lost() + outbox.relay()


@dramatiq.actor(
    actor_name="prune_outbox",
    queue_name="maintenance",
    periodic=cron("30 3 * * *"),
    max_retries=0,  # periodiq would drop a retry that waited past its skip delay anyway
    time_limit=300_000,
)
def prune_outbox() -> int:
    """Delete outbox rows sent more than a week ago, one bounded batch per run."""
    return outbox.prune()
