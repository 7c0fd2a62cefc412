"""A periodic actor for worker subprocesses only (``dramatiq worker.app <this module>``).

Kept out of tests/support/actors.py so the in-process broker, which the scheduler tests
read, never holds it.
"""

from __future__ import annotations

import dramatiq
from periodiq import cron

import worker.broker  # noqa: F401  (the actor binds to the fleet's broker)


@dramatiq.actor(
    actor_name="test_failing_nightly_job",
    queue_name="test",
    periodic=cron("15 4 * * *"),
    max_retries=0,
    time_limit=90_000,
)
def failing_nightly_job(text: str) -> None:
    raise RuntimeError(text)
