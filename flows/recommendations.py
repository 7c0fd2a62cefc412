"""Recommendations as staff run them: a product's neighbours, its exclusion, a rebuild now.

The admin API, the admin page and ``cartfleet jobs run rebuild_recommendations`` all
start a rebuild here, through the scheduler's manual run (``flows.schedules.run_now``),
so it is recorded in ``job_runs`` like the nightly one.
"""

from __future__ import annotations

from typing import Any

import dramatiq

from flows import schedules
from jobs.recommendations import REBUILD_JOB
from models.db import Session
from models.infra import job_runs
from models.recommendations import curation


def report(sku: str) -> dict[str, Any]:
    """The product's neighbours with their scores, its exclusion and the last rebuild."""
    with Session() as session:
        curation.product_or_404(session, sku)
        neighbours = curation.neighbours_of(session, sku)
        excluded = curation.is_excluded(session, sku)
    return {"sku": sku, "excluded": excluded, "neighbours": neighbours, "last_run": last_run()}


def last_run() -> job_runs.JobRun | None:
    """The latest rebuild, nightly or by hand."""
    with Session() as session:
        return job_runs.last_runs(session, jobs=[REBUILD_JOB]).get(REBUILD_JOB)


def set_excluded(sku: str, *, excluded: bool, by: str) -> bool:
    with Session.begin() as session:
        return curation.set_excluded(session, sku, excluded=excluded, by=by)


def recompute() -> dramatiq.Message[Any]:
    """Enqueue a rebuild now (a manual run of the nightly job)."""
    return schedules.run_now(REBUILD_JOB)
