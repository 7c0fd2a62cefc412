"""The schedules page: jobs with their runs and the leader; "run now" for operators."""

from __future__ import annotations

import pendulum
from sqlalchemy import select

from models.audit import AuditEntry
from models.db import Session
from models.infra.job_runs import JobRun
from tests.web.admin_helpers import logged_in

JOB = "cleanup_checked_out_carts"


def test_a_viewer_sees_jobs_runs_and_failures_without_run_buttons(client, broker):
    started = pendulum.now("UTC").subtract(minutes=3)
    with Session.begin() as session:
        session.add(
            JobRun(
                job=JOB,
                scheduled_for=started,
                started_at=started,
                finished_at=started.add(seconds=2),
                outcome="failure",
                error="OperationalError: down",
            )
        )
    logged_in(client, "viewer")

    page = client.get("/admin/schedules").get_data(as_text=True)

    assert f'id="job-{JOB}"' in page and "OperationalError: down" in page
    assert '<span class="status failed">failed</span>' in page and "2.0 s" in page
    assert "Run now" not in page


def test_run_now_is_refused_to_a_viewer_and_queued_for_an_operator(client, broker):
    viewer = logged_in(client, "viewer")
    refused = client.post(f"/admin/schedules/{JOB}/run", data={"csrf_token": viewer})
    client.post("/admin/logout", data={"csrf_token": viewer})
    operator = logged_in(client, "operator")

    done = client.post(
        f"/admin/schedules/{JOB}/run", data={"csrf_token": operator}, follow_redirects=True
    )
    unknown = client.post("/admin/schedules/nope/run", data={"csrf_token": operator})

    assert refused.status_code == 403
    assert f"{JOB} is queued" in done.get_data(as_text=True)
    assert broker.client.llen("dramatiq:maintenance") == 1
    assert unknown.status_code == 303
    with Session() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "run_schedule"))
        outcomes = sorted((entry.outcome, entry.target) for entry in entries)
    assert outcomes == [("denied", f"name:{JOB}"), ("failed", "name:nope"), ("ok", f"name:{JOB}")]
