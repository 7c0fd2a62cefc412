"""Running real Dramatiq workers in tests: in this process, or as a child process."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from tests.support.services import ROOT


@contextlib.contextmanager
def running_worker(broker: RedisBroker, *, threads: int = 4) -> Iterator[dramatiq.Worker]:
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=50)
    before = list(broker.middleware)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop(timeout=10_000)
        # A stopped Worker leaves its middleware on the broker, and that middleware
        # would start consumers for queues declared later that nobody drains.
        broker.middleware[:] = before


def drain(broker: RedisBroker, worker: dramatiq.Worker, *, timeout: float = 30) -> None:
    """Wait until every declared queue (delayed ones included) is empty and acked."""
    deadline = time.monotonic() + timeout
    quiet_rounds = 0
    while quiet_rounds < 3:
        if time.monotonic() > deadline:
            raise TimeoutError("queues did not drain in time")
        busy = any(broker.do_qsize(queue) for queue in broker.get_declared_queues())
        quiet_rounds = 0 if busy else quiet_rounds + 1
        time.sleep(0.05)
    worker.join()


def spawn_worker(*modules: str, processes: int = 1, threads: int = 2) -> subprocess.Popen:
    """Start ``dramatiq worker.app [modules]`` as a child with the test environment."""
    command = [
        sys.executable,
        "-m",
        "dramatiq",
        "worker.app",
        *modules,
        "--processes",
        str(processes),
        "--threads",
        str(threads),
    ]
    return subprocess.Popen(command, cwd=ROOT, env=dict(os.environ), start_new_session=True)


@contextlib.contextmanager
def worker_process(*modules: str, **options: int) -> Iterator[subprocess.Popen]:
    """``spawn_worker`` for the duration of a block; stopped with SIGTERM after it."""
    process = spawn_worker(*modules, **options)
    try:
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
