"""Admin: the periodic jobs, their last and next runs, and the scheduler leader."""

from __future__ import annotations

import dramatiq

from web.admin import bp
from worker.scheduler import schedule_overview


@bp.get("/api/schedules")
def schedules():
    """Each periodic job (cron, last run, next run) and the current scheduler leader."""
    return schedule_overview(dramatiq.get_broker())


__all__ = ["bp", "schedules"]
