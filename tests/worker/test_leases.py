"""A worker cut off from Redis loses no message: what it leased comes back once the link
does, though the worker never stopped."""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import dramatiq
import pytest
import redis
from dramatiq import Worker
from dramatiq.errors import ConnectionClosed

from tests.faults.proxy import FaultProxy
from tests.support.outages import redis_outage
from worker.broker import build_broker
from worker.leases import BrokerUnreachable

JOBS = 30
HEARTBEAT_TIMEOUT_MS = 2_000
CUT_S = 7  # past the client's 5 s socket timeout: calls time out, some after Redis ran them


@pytest.fixture
def proxied_broker(broker):
    """A broker of its own whose every Redis call goes through a fault proxy."""
    url = urlsplit(os.environ["REDIS_URL"])
    proxy = FaultProxy("redis", (url.hostname, url.port))
    own = build_broker(
        url._replace(netloc=f"127.0.0.1:{proxy.port}").geturl(),
        heartbeat_timeout_ms=HEARTBEAT_TIMEOUT_MS,
    )
    own.emit_after("process_boot")
    yield own, proxy
    own.close()
    proxy.stop()


def declare(broker, fn, *, max_retries: int) -> dramatiq.Actor:
    """``fn`` as an actor of ``broker`` on a queue of its own, retried within a second."""
    queue = f"leases-{uuid.uuid4().hex[:8]}"
    return dramatiq.actor(
        fn, broker=broker, queue_name=queue, actor_name=f"{fn.__name__}_{queue}",
        max_retries=max_retries, min_backoff=200, max_backoff=1_000,
    )  # fmt: skip


@contextlib.contextmanager
def running(actor: dramatiq.Actor, *, threads: int) -> Iterator[None]:
    worker = Worker(actor.broker, queues={actor.queue_name}, worker_threads=threads,
                    worker_timeout=200)  # fmt: skip
    worker.start()
    try:
        yield
    finally:
        worker.stop(timeout=5_000)


def wait_for(predicate, *, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.5)


def test_a_failed_call_raises_an_error_both_layers_understand_and_abandons_the_identity(broker):
    identity = broker.broker_id
    with redis_outage(broker), pytest.raises(BrokerUnreachable) as raised:
        broker.do_qsize("email")
    assert isinstance(raised.value, ConnectionClosed)
    assert isinstance(raised.value, redis.ConnectionError)
    assert broker.broker_id != identity


@pytest.mark.slow  # a process of its own: make test-slow
def test_every_job_runs_after_its_worker_was_black_holed_from_redis(proxied_broker, broker):
    own, proxy = proxied_broker
    key = f"test:leases:{uuid.uuid4().hex}"
    direct = broker.client  # the tally does not go through the proxy

    def tally(n: int) -> None:
        if direct.hincrby(f"{key}:attempts", str(n), 1) == 1:
            time.sleep(0.3)
            raise RuntimeError("the first attempt fails, so its retry is scheduled")
        direct.sadd(f"{key}:done", n)

    job = declare(own, tally, max_retries=50)
    for n in range(JOBS):
        job.send(n)
    try:
        with running(job, threads=4):
            time.sleep(1)
            proxy.set("blackhole")
            time.sleep(CUT_S)
            proxy.set("pass")
            wait_for(lambda: direct.scard(f"{key}:done") >= JOBS)
            assert {int(n) for n in direct.smembers(f"{key}:done")} == set(range(JOBS))
    finally:
        direct.delete(f"{key}:done", f"{key}:attempts")


def test_a_retry_that_could_not_be_scheduled_still_runs(proxied_broker, broker):
    own, proxy = proxied_broker
    key = f"test:leases:{uuid.uuid4().hex}"
    direct = broker.client

    def fail_then_cut(n: int) -> None:
        if direct.incr(f"{key}:attempts") == 1:
            proxy.set("reset")  # Retries' enqueue of the retry is refused...
            threading.Timer(2, proxy.set, ("pass",)).start()  # ...and Redis is back soon
            raise RuntimeError("the first attempt fails")
        direct.set(f"{key}:done", n)

    job = declare(own, fail_then_cut, max_retries=5)
    job.send(7)
    try:
        with running(job, threads=1):
            wait_for(lambda: direct.get(f"{key}:done") is not None)
            assert direct.get(f"{key}:done") == b"7"
            assert int(direct.get(f"{key}:attempts")) == 2
    finally:
        direct.delete(f"{key}:done", f"{key}:attempts")
