"""Every run of a periodic job checks in to Sentry Crons with its schedule."""

from __future__ import annotations

import time
import uuid

import dramatiq
import pytest

from jobs.carts import purge_expired_sessions
from tests.support.workers import worker_process
from worker.broker import DEFAULT_TIME_LIMIT_MS
from worker.crons import monitor_config, monitor_slug
from worker.scheduler import periodic_actors


def check_ins(receiver, slug: str, *, count: int) -> list[dict]:
    return receiver.wait_for_items(
        "check_in", lambda c: c["monitor_slug"] == slug, count=count, timeout=60
    )


@pytest.mark.slow  # a process of its own: make test-slow
def test_the_nightly_purge_checks_in_when_it_starts_and_when_it_succeeds(receiver, sentry_env):
    with worker_process():
        purge_expired_sessions.send()
        started, finished = check_ins(receiver, "purge-expired-sessions", count=2)

    assert (started["status"], finished["status"]) == ("in_progress", "ok")
    assert started["check_in_id"] == finished["check_in_id"]
    assert finished["duration"] > 0
    assert finished["environment"] == "test" and finished["release"]
    assert started["monitor_config"] == {
        "schedule": {"type": "crontab", "value": "0 2 * * *"},
        "timezone": "UTC",
        "checkin_margin": 5,
        "max_runtime": 6,  # its 300 s time limit, and a minute for its own check-in
    }
    assert finished["monitor_config"] == started["monitor_config"]


@pytest.mark.slow  # a process of its own: make test-slow
def test_a_periodic_job_that_raises_checks_in_an_error(broker, receiver, sentry_env):
    failing = dramatiq.Message(
        queue_name="test",
        actor_name="test_failing_nightly_job",
        args=("the night went wrong",),
        kwargs={},
        options={},
        message_id=str(uuid.uuid4()),
        message_timestamp=int(time.time() * 1000),
    )

    with worker_process("tests.support.periodic_actors"):
        broker.enqueue(failing)
        started, finished = check_ins(receiver, "test-failing-nightly-job", count=2)
        receiver.wait_for("the night went wrong")  # the error itself is reported too

    assert (started["status"], finished["status"]) == ("in_progress", "error")
    assert started["check_in_id"] == finished["check_in_id"]
    assert finished["monitor_config"]["schedule"] == {"type": "crontab", "value": "15 4 * * *"}
    assert finished["monitor_config"]["max_runtime"] == 3


def test_every_periodic_job_of_the_fleet_is_a_monitor_of_its_own(broker):
    fleet = [actor for actor in periodic_actors(broker) if actor.queue_name != "test"]
    slugs = {monitor_slug(actor.actor_name) for actor in fleet}

    assert len(slugs) == len(fleet) >= 7
    assert "purge-expired-sessions" in slugs
    for actor in fleet:
        config = monitor_config(
            actor, default_time_limit_ms=DEFAULT_TIME_LIMIT_MS, checkin_margin_minutes=5
        )
        assert config["schedule"]["value"] == str(actor.options["periodic"])
        assert config["max_runtime"] > actor.options["time_limit"] / 60_000
