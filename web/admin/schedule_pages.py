"""The schedules page: each periodic job's cron, recent runs, next run, the leader; run now."""

from __future__ import annotations

import datetime as dt

import dramatiq
import pendulum
from flask import flash, g, redirect, render_template, url_for

from flows import schedules
from models.db import Session
from models.errors import CartfleetError
from models.infra import job_runs
from web.admin import bp
from web.admin.schedules import overview_json
from worker.scheduler import previous_run

__all__ = ["bp", "with_problems"]

# A tick this recent may still be on its way to a worker: not missed yet.
GRACE = dt.timedelta(minutes=2)


def with_problems(items: list[dict], *, now: pendulum.DateTime) -> list[dict]:
    """``items`` (``schedule_overview``'s) each with ``problem``: missed, failed or None."""
    broker = dramatiq.get_broker()
    with Session() as session:
        for item in items:
            spec = broker.get_actor(item["job"]).options["periodic"]
            due = previous_run(spec, now - GRACE)
            last = item["last_run"]
            if last is not None and last["outcome"] == "failure":
                item["problem"] = "failed"
            elif due is not None and not job_runs.ran_since(session, job=item["job"], since=due):
                item["problem"] = "missed"
            else:
                item["problem"] = None
    return items


@bp.get("/schedules")
def page_schedules():
    overview = overview_json()
    with_problems(overview["items"], now=pendulum.now("UTC"))
    return render_template("admin/schedules.html", overview=overview)


@bp.post("/schedules/<name>/run")
def page_run_schedule(name: str):
    try:
        message = schedules.run_now(name)
        flash(f"{name} is queued on {message.queue_name}; its run appears below.", "ok")
    except CartfleetError as error:
        flash(error.message, "error")
        g.audit_status = error.status
    return redirect(url_for("admin.page_schedules"), 303)
