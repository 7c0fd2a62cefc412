"""GET /admin/api/schedules: every periodic job with cron, last run, next run; the leader."""

from __future__ import annotations

import pendulum
from sqlalchemy import select

from models.db import Session
from models.infra.job_runs import JobRun
from tests.support.outages import redis_outage
from worker.leader import LeaderLease

AUTH = {"Authorization": "Bearer test-admin-token"}


def test_requires_the_admin_token(client):
    assert client.get("/admin/api/schedules").status_code == 401


def test_lists_every_periodic_job_with_its_last_and_next_run(client, broker):
    started = pendulum.now("UTC").subtract(minutes=3).start_of("minute")
    with Session.begin() as session:
        session.add_all(
            [
                JobRun(
                    job="cleanup_checked_out_carts",
                    scheduled_for=started.subtract(minutes=5),
                    started_at=started.subtract(minutes=5),
                    finished_at=started.subtract(minutes=5),
                    outcome="failure",
                    error="OperationalError: down",
                ),
                JobRun(
                    job="cleanup_checked_out_carts",
                    scheduled_for=started,
                    started_at=started.add(seconds=1),
                    finished_at=started.add(seconds=2),
                    outcome="success",
                    items_processed=12,
                ),
            ]
        )
    LeaderLease(broker.client, identity="host-a:42:abc").acquire_or_renew()

    response = client.get("/admin/api/schedules", headers=AUTH)

    assert response.status_code == 200
    body = response.json
    assert body["leader"]["id"] == "host-a:42:abc"
    assert 0 < body["leader"]["expires_in_ms"] <= 30_000
    jobs = {item["job"]: item for item in body["items"]}
    assert {
        "cleanup_checked_out_carts",
        "purge_expired_sessions",
        "retry_reservation_confirmations",
        "release_expired_reservations",
        "relay_outbox",
    } <= set(jobs)
    cleanup = jobs["cleanup_checked_out_carts"]
    assert cleanup["cron"] == "*/5 * * * *"
    assert cleanup["time_limit_ms"] == 60_000
    assert cleanup["last_run"] == {
        "scheduled_for": started.isoformat(),
        "started_at": started.add(seconds=1).isoformat(),
        "finished_at": started.add(seconds=2).isoformat(),
        "outcome": "success",
        "items_processed": 12,
        "error": None,
    }
    next_run = pendulum.parse(cleanup["next_run"])
    assert next_run > pendulum.now("UTC") and next_run.minute % 5 == 0
    purge = jobs["purge_expired_sessions"]
    assert purge["last_run"] is None
    assert (pendulum.parse(purge["next_run"]).hour, pendulum.parse(purge["next_run"]).minute) == (
        2,
        0,
    )


def test_no_leader_when_no_scheduler_holds_the_lease(client):
    assert client.get("/admin/api/schedules", headers=AUTH).json["leader"] is None


def test_redis_outage_is_a_503(client, broker):
    with redis_outage(broker):
        response = client.get("/admin/api/schedules", headers=AUTH)
    assert response.status_code == 503
    assert response.json["error"] == "unavailable"


def test_recent_runs_with_their_duration(client, broker):
    started = pendulum.now("UTC").subtract(hours=1)
    with Session.begin() as session:
        session.add_all(
            JobRun(
                job="relay_outbox",
                scheduled_for=started.add(minutes=n),
                started_at=started.add(minutes=n),
                finished_at=started.add(minutes=n, seconds=n),
                outcome="success",
                items_processed=n,
            )
            for n in range(7)
        )

    jobs = {
        item["job"]: item for item in client.get("/admin/api/schedules", headers=AUTH).json["items"]
    }

    recent = jobs["relay_outbox"]["recent_runs"]
    assert [run["items_processed"] for run in recent] == [6, 5, 4, 3, 2]
    assert recent[0]["duration_s"] == 6.0 and recent[0]["outcome"] == "success"
    assert jobs["prune_outbox"]["recent_runs"] == []


def test_run_now_enqueues_a_run_that_is_recorded(client, drain_queues):
    response = client.post("/admin/api/schedules/relay_outbox/run", headers=AUTH)

    assert response.status_code == 202
    assert response.json["job"] == "relay_outbox" and response.json["queue"] == "maintenance"
    drain_queues()
    with Session() as session:
        [run] = session.scalars(select(JobRun).where(JobRun.job == "relay_outbox"))
    assert (run.scheduled_for, run.outcome) == (None, "success")


def test_run_now_of_an_unknown_job_is_a_404(client, broker):
    response = client.post("/admin/api/schedules/no_such_job/run", headers=AUTH)
    assert response.status_code == 404
    assert "relay_outbox" in response.json["jobs"]
