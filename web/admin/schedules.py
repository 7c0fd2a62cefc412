"""Admin: the periodic jobs, their recent and next runs, the scheduler leader; run one now."""

from __future__ import annotations

import dramatiq

from models import job_runs
from models.db import Session
from web.admin import bp
from web.errors import APIError
from worker.scheduler import periodic_actors, schedule_overview

RECENT_RUNS = 5


def _run(run: job_runs.JobRun) -> dict[str, object]:
    duration = None
    if run.finished_at is not None:
        duration = round((run.finished_at - run.started_at).total_seconds(), 3)
    return {
        "scheduled_for": run.scheduled_for.isoformat() if run.scheduled_for else None,
        "started_at": run.started_at.isoformat(),
        "duration_s": duration,
        "outcome": run.outcome,
        "items_processed": run.items_processed,
        "error": run.error,
    }


@bp.get("/api/schedules")
def schedules():
    """Each periodic job (cron, last and recent runs, next run) and the scheduler leader."""
    overview = schedule_overview(dramatiq.get_broker())
    with Session() as session:
        recent = job_runs.recent_runs(
            session, jobs=[item["job"] for item in overview["items"]], per_job=RECENT_RUNS
        )
    for item in overview["items"]:
        item["recent_runs"] = [_run(run) for run in recent[item["job"]]]
    return overview


@bp.post("/api/schedules/<name>/run")
def run_schedule(name: str):
    """Enqueue the periodic job ``name`` now (a manual run, recorded without a tick)."""
    actors = {actor.actor_name: actor for actor in periodic_actors(dramatiq.get_broker())}
    if name not in actors:
        raise APIError(404, "not_found", f"No periodic job {name}.", jobs=sorted(actors))
    message = actors[name].send()
    return {"job": name, "queue": message.queue_name, "message_id": message.message_id}, 202


__all__ = ["bp", "run_schedule", "schedules"]
