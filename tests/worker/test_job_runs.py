"""Every run of a periodic actor is recorded in ``job_runs``; a tick runs at most once."""

from __future__ import annotations

import time
import uuid

import dramatiq
import pendulum
import pytest
from dramatiq.middleware import TimeLimit
from periodiq import PeriodiqMiddleware, cron
from sqlalchemy import select

from models.db import Session
from models.infra.job_runs import JobRun
from worker.job_runs import JobRunRecorder
from worker.scheduler import periodic_actors


@pytest.fixture
def calls(broker):
    key = f"test:calls:{uuid.uuid4().hex}"
    reader = lambda: [item.decode() for item in broker.client.lrange(key, 0, -1)]  # noqa: E731
    reader.key = key
    return reader


@pytest.fixture
def periodic_job(broker, calls):
    """A periodic actor that records its call and returns how many items it processed."""

    @dramatiq.actor(
        actor_name=f"count_{uuid.uuid4().hex[:8]}",
        queue_name="test",
        periodic=cron("* * * * *"),
        max_retries=0,
        time_limit=10_000,
    )
    def count(fail: bool = False) -> int:
        broker.client.rpush(calls.key, "ran")
        if fail:
            raise RuntimeError("the job broke")
        return 7

    return count


def runs(job: str) -> list[JobRun]:
    with Session() as session:
        return list(session.scalars(select(JobRun).where(JobRun.job == job).order_by(JobRun.id)))


def tick() -> str:
    return pendulum.now("UTC").start_of("minute").isoformat()


def test_a_scheduled_run_is_recorded_with_its_items(periodic_job, drain_queues):
    scheduled_at = tick()
    periodic_job.send_with_options(scheduled_at=scheduled_at)
    drain_queues()

    [run] = runs(periodic_job.actor_name)
    assert run.scheduled_for == pendulum.parse(scheduled_at)
    assert run.outcome == "success"
    assert run.items_processed == 7
    assert run.started_at <= run.finished_at
    assert run.error is None


def test_the_same_tick_delivered_twice_runs_once(periodic_job, calls, drain_queues):
    scheduled_at = tick()
    periodic_job.send_with_options(scheduled_at=scheduled_at)
    drain_queues()
    periodic_job.send_with_options(scheduled_at=scheduled_at)
    drain_queues()

    assert calls() == ["ran"]
    assert len(runs(periodic_job.actor_name)) == 1


def test_a_failed_run_records_the_error_and_its_retry_may_run(periodic_job, calls, drain_queues):
    scheduled_at = tick()
    periodic_job.send_with_options(kwargs={"fail": True}, scheduled_at=scheduled_at)
    drain_queues()
    [failed] = runs(periodic_job.actor_name)
    assert failed.outcome == "failure"
    assert failed.error == "RuntimeError: the job broke"

    periodic_job.send_with_options(scheduled_at=scheduled_at)
    drain_queues()

    [run] = runs(periodic_job.actor_name)
    assert calls() == ["ran", "ran"]
    assert (run.outcome, run.error) == ("success", None)


def test_manual_runs_are_recorded_without_a_tick(periodic_job, drain_queues):
    periodic_job.send()
    periodic_job.send()
    drain_queues()

    recorded = runs(periodic_job.actor_name)
    assert [(run.scheduled_for, run.outcome) for run in recorded] == [(None, "success")] * 2


@pytest.fixture
def time_limits(broker):
    """Enforce time limits in this process, as ``dramatiq`` worker processes do at boot."""
    limiter = next(m for m in broker.middleware if isinstance(m, TimeLimit))
    if not limiter.manager.is_alive():
        limiter.manager.start()


def test_a_run_over_its_time_limit_is_recorded_as_failed(broker, time_limits, drain_queues):
    @dramatiq.actor(
        actor_name=f"slow_{uuid.uuid4().hex[:8]}",
        queue_name="test",
        periodic=cron("* * * * *"),
        max_retries=0,
        time_limit=1_000,
    )
    def slow() -> None:
        for _ in range(100):
            time.sleep(0.1)

    slow.send_with_options(scheduled_at=tick())
    drain_queues()

    [run] = runs(slow.actor_name)
    assert run.outcome == "failure"
    assert run.error.startswith("TimeLimitExceeded")


def test_a_stale_tick_is_skipped_by_periodiq_and_not_recorded(periodic_job, calls, drain_queues):
    periodic_job.send_with_options(
        scheduled_at=pendulum.now("UTC").subtract(minutes=10).isoformat()
    )
    drain_queues()

    assert calls() == []
    assert runs(periodic_job.actor_name) == []


def test_recorder_covers_every_periodic_actor_of_the_fleet(broker):
    kinds = [type(middleware) for middleware in broker.middleware]
    assert kinds.index(JobRunRecorder) > kinds.index(PeriodiqMiddleware)
    fleet = {actor.actor_name for actor in periodic_actors(broker)}
    assert {
        "relay_outbox",
        "cleanup_checked_out_carts",
        "purge_expired_sessions",
        "retry_reservation_confirmations",
        "release_expired_reservations",
    } <= fleet
