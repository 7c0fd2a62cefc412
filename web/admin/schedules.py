"""Admin: the periodic jobs, their recent and next runs, the scheduler leader; run one now."""

from __future__ import annotations

from flows import schedules as flow
from models.infra import job_runs
from web.admin import bp


def run_json(run: job_runs.JobRun) -> dict[str, object]:
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


def overview_json() -> dict[str, object]:
    """The schedules as the API answers them and the page shows them."""
    overview = flow.overview()
    for item in overview["items"]:
        item["recent_runs"] = [run_json(run) for run in item["recent_runs"]]
    return overview


@bp.get("/api/schedules")
def schedules():
    """Each periodic job (cron, last and recent runs, next run) and the scheduler leader."""
    return overview_json()


@bp.post("/api/schedules/<name>/run")
def run_schedule(name: str):
    """Enqueue the periodic job ``name`` now (a manual run, recorded without a tick)."""
    message = flow.run_now(name)
    return {"job": name, "queue": message.queue_name, "message_id": message.message_id}, 202


__all__ = ["bp", "overview_json"]
