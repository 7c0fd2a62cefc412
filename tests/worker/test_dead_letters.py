"""Dead letters in Dramatiq's Redis DLQ: final error kept, listed, requeued once, purged."""

from __future__ import annotations

import threading
import time
import uuid

import dramatiq
import pytest

import worker.broker  # noqa: F401  (actors below bind to the fleet's broker)
from worker import dead_letters

QUEUE = "dlq_test"


# Declared at collection, before any test starts a worker: a stopped in-process worker
# still adds consumers for queues declared later (dramatiq keeps its middleware on the
# broker), and those consumers would take this queue's messages and never run them.
@dramatiq.actor(actor_name="dlq_test_declare", queue_name=QUEUE)
def _declare_queue() -> None:
    """Never sent."""


@pytest.fixture
def failing(broker):
    """An actor that fails every attempt with the attempt's number, retried once."""
    key = f"test:dlq:{uuid.uuid4().hex}"

    @dramatiq.actor(
        actor_name=f"fail_twice_{uuid.uuid4().hex[:8]}",
        queue_name=QUEUE,
        max_retries=1,
        min_backoff=10,
        max_backoff=20,
    )
    def fail(value: str) -> None:
        attempt = broker.client.incr(key)
        if broker.client.get(f"{key}:fixed"):
            broker.client.rpush(f"{key}:done", value)
            return
        raise RuntimeError(f"attempt {attempt}")

    fail.fix = lambda: broker.client.set(f"{key}:fixed", 1)
    fail.done = lambda: [v.decode() for v in broker.client.lrange(f"{key}:done", 0, -1)]
    return fail


@pytest.fixture
def run(broker):
    worker = dramatiq.Worker(broker, queues={QUEUE}, worker_threads=2, worker_timeout=50)
    worker.start()

    def drain(timeout: float = 15) -> None:
        deadline, quiet = time.monotonic() + timeout, 0
        while quiet < 3:
            assert time.monotonic() < deadline, "queue did not drain"
            quiet = 0 if broker.do_qsize(QUEUE) else quiet + 1
            time.sleep(0.05)
        worker.join()

    yield drain
    worker.stop(timeout=10_000)


def test_exhausted_message_is_listed_with_its_final_error(broker, failing, run):
    message = failing.send("a")
    run()

    [letter] = dead_letters.list_dead_letters(queue=QUEUE)
    assert letter.message_id == message.message_id
    assert letter.error == "RuntimeError: attempt 2"  # not the first attempt's
    item = letter.to_dict()
    assert (item["queue"], item["actor"], item["args"]) == (QUEUE, failing.actor_name, ["a"])
    assert dead_letters.count(QUEUE) == 1
    assert QUEUE in dead_letters.queues()
    assert dead_letters.find(message.message_id) == letter
    assert dead_letters.list_dead_letters(actor="someone_else") == []


def test_requeue_resets_retries_and_runs_the_message_once(broker, failing, run):
    failing.send("b")
    run()
    [letter] = dead_letters.list_dead_letters(queue=QUEUE)
    failing.fix()

    results = []
    threads = [
        threading.Thread(target=lambda: results.append(dead_letters.requeue(letter)))
        for _ in range(5)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run()

    assert sorted(results) == [False] * 4 + [True]
    assert failing.done() == ["b"]
    assert dead_letters.list_dead_letters(queue=QUEUE) == []


def test_requeued_message_that_fails_again_gets_its_full_retries(broker, failing, run):
    failing.send("c")
    run()
    dead_letters.requeue_all(dead_letters.list_dead_letters(queue=QUEUE))
    run()

    [letter] = dead_letters.list_dead_letters(queue=QUEUE)
    assert letter.error == "RuntimeError: attempt 4"  # two more attempts after the requeue


def test_purge_deletes_for_good(broker, failing, run):
    failing.send("d")
    failing.send("e")
    run()

    letters = dead_letters.list_dead_letters(queue=QUEUE)
    assert dead_letters.purge(letters[0]) is True
    assert dead_letters.purge(letters[0]) is False
    assert dead_letters.purge_all(dead_letters.list_dead_letters()) == 1
    assert dead_letters.count(QUEUE) == 0
    assert broker.client.hlen(f"dramatiq:{QUEUE}.XQ.msgs") == 0
