"""Actors for worker subprocesses in tests (``dramatiq worker.app tests.support.actors``)."""

from __future__ import annotations

import time

import dramatiq

from worker.broker import broker


@dramatiq.actor(actor_name="test_hold_once", queue_name="test", max_retries=0, time_limit=600_000)
def hold_once(key: str) -> None:
    """First delivery records ``started`` and hangs; a redelivery records ``finished``."""
    if broker.client.rpush(key, "started") == 1:
        time.sleep(600)
    broker.client.rpush(key, "finished")


@dramatiq.actor(actor_name="test_fail_loudly", queue_name="test", max_retries=0)
def fail_loudly(text: str) -> None:
    raise RuntimeError(text)


@dramatiq.actor(actor_name="test_noop", queue_name="test", max_retries=0)
def noop(text: str) -> None:
    """Does nothing; tests look at what its run sends to Sentry."""


@dramatiq.actor(
    actor_name="test_fail_once", queue_name="test", max_retries=1, min_backoff=10, max_backoff=10
)
def fail_once(key: str) -> None:
    """The first delivery raises, the retry succeeds."""
    if broker.client.incr(key) == 1:
        raise RuntimeError("first attempt fails")


@dramatiq.actor(actor_name="test_take_time", queue_name="test", max_retries=0, time_limit=60_000)
def take_time(key: str, seconds: float) -> None:
    """Records ``started``, works for ``seconds``, records ``finished``."""
    broker.client.rpush(key, "started")
    time.sleep(seconds)
    broker.client.rpush(key, "finished")
