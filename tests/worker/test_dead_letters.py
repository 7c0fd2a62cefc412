"""Dead letters: final error and traceback kept, archived, listed, requeued once, purged."""

from __future__ import annotations

import json
import threading
import time
import uuid

import dramatiq
import pytest
from click.testing import CliRunner
from sqlalchemy import select

import worker.broker  # noqa: F401  (actors below bind to the fleet's broker)
from cli import main as cartfleet
from models.db import Session
from models.infra.dead_letters import DeadLetter
from tests.support.outages import database_outage
from worker import dead_letters

QUEUE = "dlq_test"


class ExpectedError(Exception):
    """An error the actor declares in ``throws``: not retried."""


# Declared at collection, before any test starts a worker: a stopped in-process worker
# still adds consumers for queues declared later (dramatiq keeps its middleware on the
# broker), and those consumers would take this queue's messages and never run them.
@dramatiq.actor(actor_name="dlq_test_declare", queue_name=QUEUE)
def _declare_queue() -> None:
    """Never sent."""


@pytest.fixture
def failing(broker):
    """An actor that fails every attempt with the attempt's number, retried once.

    Attempts after ``expect()`` raise an expected error (declared in ``throws``).
    """
    key = f"test:dlq:{uuid.uuid4().hex}"

    @dramatiq.actor(
        actor_name=f"fail_twice_{uuid.uuid4().hex[:8]}",
        queue_name=QUEUE,
        max_retries=1,
        min_backoff=10,
        max_backoff=20,
        throws=(ExpectedError,),
    )
    def fail(value: str) -> None:
        attempt = broker.client.incr(key)
        if broker.client.get(f"{key}:fixed"):
            broker.client.rpush(f"{key}:done", value)
            return
        if broker.client.get(f"{key}:expected"):
            raise ExpectedError(f"expected on attempt {attempt}")
        raise RuntimeError(f"attempt {attempt}")

    fail.fix = lambda: broker.client.set(f"{key}:fixed", 1)
    fail.expect = lambda: broker.client.set(f"{key}:expected", 1)
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


def archived(message_id: str) -> DeadLetter | None:
    with Session() as session:
        return session.get(DeadLetter, message_id)


def redis_entry(broker) -> dramatiq.Message:
    [body] = broker.client.hvals(f"dramatiq:{QUEUE}.XQ.msgs")
    return dramatiq.Message.decode(body)


def test_exhausted_message_is_archived_with_its_final_error_and_traceback(broker, failing, run):
    message = failing.send("a")
    run()

    [letter] = dead_letters.list_dead_letters(queue=QUEUE)
    assert letter.message_id == message.message_id
    assert letter.error == "RuntimeError: attempt 2"  # not the first attempt's
    assert "Traceback" in letter.traceback and "attempt 2" in letter.traceback
    item = letter.to_dict()
    assert (item["queue"], item["actor"], item["args"], item["retries"]) == (
        QUEUE,
        failing.actor_name,
        ["a"],
        2,
    )
    assert archived(message.message_id).error == letter.error
    assert redis_entry(broker).options["error"] == "RuntimeError: attempt 2"  # dashboards
    assert dead_letters.redis_count(QUEUE) == 1
    assert dead_letters.list_dead_letters(actor="someone_else") == []


def test_an_expected_exception_leaves_its_error_and_traceback(broker, failing, run):
    failing.expect()  # Dramatiq's Retries records no traceback for these
    message = failing.send("x")
    run()

    [letter] = dead_letters.list_dead_letters(queue=QUEUE)
    assert letter.message_id == message.message_id
    assert letter.error == "tests.worker.test_dead_letters.ExpectedError: expected on attempt 1"
    assert "raise ExpectedError" in letter.traceback
    assert "Traceback" in redis_entry(broker).options["traceback"]


def test_requeue_resets_retries_and_runs_the_message_once(broker, failing, run):
    failing.send("b")
    run()
    [letter] = dead_letters.list_dead_letters(queue=QUEUE)
    failing.fix()

    results = []
    threads = [
        threading.Thread(
            target=lambda: results.append(len(dead_letters.requeue([letter.message_id])))
        )
        for _ in range(5)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run()

    assert sorted(results) == [0] * 4 + [1]
    assert failing.done() == ["b"]
    assert dead_letters.list_dead_letters(queue=QUEUE) == []
    assert archived(letter.message_id).requeued_at is not None
    assert dead_letters.redis_count(QUEUE) == 0


def test_a_letter_whose_redis_entry_expired_is_listed_and_requeued(broker, failing, run):
    message = failing.send("gone")
    run()
    broker.client.delete(f"dramatiq:{QUEUE}.XQ", f"dramatiq:{QUEUE}.XQ.msgs")  # 7 days on
    failing.fix()

    [letter] = dead_letters.list_dead_letters(queue=QUEUE)
    assert (letter.message_id, letter.error) == (message.message_id, "RuntimeError: attempt 2")
    assert [x.message_id for x in dead_letters.requeue(queue=QUEUE)] == [message.message_id]
    run()

    assert failing.done() == ["gone"]
    assert dead_letters.list_dead_letters() == []


def test_requeued_message_that_fails_again_gets_its_full_retries(broker, failing, run):
    failing.send("c")
    run()
    dead_letters.requeue(queue=QUEUE)
    run()

    [letter] = dead_letters.list_dead_letters(queue=QUEUE)
    assert letter.error == "RuntimeError: attempt 4"  # two more attempts after the requeue
    assert archived(letter.message_id).requeued_at is None  # dead again


def test_a_letter_that_died_while_the_database_was_down_is_adopted_later(broker, failing, run):
    message = failing.send("db-down")
    with database_outage():
        run()

    [letter] = dead_letters.list_dead_letters(queue=QUEUE)
    assert (letter.message_id, letter.error) == (message.message_id, "RuntimeError: attempt 2")
    assert "Traceback" in letter.traceback


def test_a_redis_entry_missing_from_the_archive_is_adopted(broker):
    message = dramatiq.Message(
        queue_name=QUEUE, actor_name="old_actor", args=(1,), kwargs={}, options={}
    )
    broker.client.zadd(f"dramatiq:{QUEUE}.XQ", {"r-1": int(time.time() * 1000)})
    broker.client.hset(f"dramatiq:{QUEUE}.XQ.msgs", "r-1", message.encode())

    [letter] = dead_letters.list_dead_letters()
    assert (letter.message_id, letter.actor) == (message.message_id, "old_actor")
    assert letter.error == dead_letters.NO_EXCEPTION  # never null

    assert [x.message_id for x in dead_letters.purge([message.message_id])] == [message.message_id]
    assert dead_letters.redis_count(QUEUE) == 0
    assert dead_letters.list_dead_letters() == []
    with Session() as session:
        assert session.scalar(select(DeadLetter.purged_at)) is not None


def test_a_message_dead_twice_in_redis_is_archived_once_with_its_later_death(broker):
    message = dramatiq.Message(queue_name=QUEUE, actor_name="dup", args=(), kwargs={}, options={})
    now_ms = int(time.time() * 1000)
    for redis_id, dead_at, error in [("r-1", now_ms - 1000, "first"), ("r-2", now_ms, "second")]:
        body = message.copy(options={"error": error}).encode()
        broker.client.zadd(f"dramatiq:{QUEUE}.XQ", {redis_id: dead_at})
        broker.client.hset(f"dramatiq:{QUEUE}.XQ.msgs", redis_id, body)

    [letter] = dead_letters.list_dead_letters()

    assert (letter.message_id, letter.error, letter.redis_id) == (
        message.message_id,
        "second",
        "r-2",
    )


def test_purge_deletes_for_good(broker, failing, run):
    failing.send("d")
    failing.send("e")
    run()

    first, _ = dead_letters.list_dead_letters(queue=QUEUE)
    assert len(dead_letters.purge([first.message_id])) == 1
    assert dead_letters.purge([first.message_id]) == []
    assert len(dead_letters.purge(queue=QUEUE)) == 1
    assert dead_letters.redis_count(QUEUE) == 0
    assert broker.client.hlen(f"dramatiq:{QUEUE}.XQ.msgs") == 0


def test_json_listing_is_an_array_even_when_empty(broker):
    result = CliRunner().invoke(cartfleet, ["dlq", "list", "--json"])

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == []
