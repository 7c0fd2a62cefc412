"""Messages survive a worker killed with SIGKILL: another worker runs them again."""

from __future__ import annotations

import os
import signal
import time
import uuid

import pytest

from tests.support import actors
from tests.support.workers import spawn_worker

REDELIVERY_LIMIT_S = 60


def wait_until(predicate, *, timeout: float, interval: float = 0.2) -> float:
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise AssertionError("condition not met in time")
        time.sleep(interval)
    return time.monotonic() - started


@pytest.mark.slow  # a process of its own: make test-slow
def test_message_held_by_a_sigkilled_worker_runs_again_within_60s(broker):
    key = f"test:hold:{uuid.uuid4().hex}"
    first = spawn_worker("tests.support.actors")
    second = None
    try:
        actors.hold_once.send(key)
        wait_until(lambda: broker.client.lrange(key, 0, -1) == [b"started"], timeout=60)

        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        killed_at = time.monotonic()
        second = spawn_worker("tests.support.actors")

        wait_until(lambda: b"finished" in broker.client.lrange(key, 0, -1), timeout=90)
        assert time.monotonic() - killed_at < REDELIVERY_LIMIT_S
        assert broker.client.lrange(key, 0, -1) == [b"started", b"started", b"finished"]
    finally:
        for process in (first, second):
            if process and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=30)
