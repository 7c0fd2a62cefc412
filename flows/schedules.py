"""The periodic jobs: their schedule and recent runs, and a run started by hand."""

from __future__ import annotations

from typing import Any

import dramatiq

from models.db import Session
from models.errors import NotFound
from models.infra import job_runs
from services.redis_broker import redis_broker
from worker.scheduler import periodic_actors, schedule_overview

RECENT_RUNS = 5


def overview() -> dict[str, Any]:
    """Each periodic job (cron, last and next run, its recent runs) and the scheduler leader."""
    report = schedule_overview(redis_broker())
    with Session() as session:
        recent = job_runs.recent_runs(
            session, jobs=[item["job"] for item in report["items"]], per_job=RECENT_RUNS
        )
    for item in report["items"]:
        item["recent_runs"] = recent[item["job"]]
    return report


def run_now(name: str) -> dramatiq.Message[Any]:
    """Enqueue the periodic job ``name`` now: a manual run, recorded without a tick.

    Sent straight to Redis: nothing is written to the database that could roll back.
    """
    actors = {actor.actor_name: actor for actor in periodic_actors(dramatiq.get_broker())}
    if name not in actors:
        raise NotFound(f"No periodic job {name}.", jobs=sorted(actors))
    return actors[name].send()
