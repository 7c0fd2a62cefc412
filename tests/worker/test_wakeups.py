"""An enqueue wakes the consumer of its queue; no consumer waits out a poll interval."""

from __future__ import annotations

import threading
import time
import uuid

import dramatiq
from dramatiq import Message, Worker
from dramatiq.errors import ConnectionClosed

from worker.wakeups import WAKE_TOKENS, WakingConsumer, wake_key

# Far longer than any test waits: a consumer that is not woken never returns in time.
IDLE_TIMEOUT_MS = 120_000


def message(queue: str) -> Message:
    return Message(queue_name=queue, actor_name="noop", args=(), kwargs={}, options={})


def new_queue(broker) -> str:
    queue = f"wake-{uuid.uuid4().hex[:8]}"
    broker.declare_queue(queue)
    return queue


def test_the_fleet_broker_hands_out_waking_consumers(broker):
    assert isinstance(broker.consume(new_queue(broker)), WakingConsumer)


def test_an_enqueue_wakes_a_consumer_waiting_on_an_empty_queue(broker):
    queue = new_queue(broker)
    consumer = broker.consume(queue, prefetch=2, timeout=IDLE_TIMEOUT_MS)
    received = []

    def consume() -> None:
        while not received:
            found = next(consumer)
            if found is not None:
                received.append(found)

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    wait_until_blocked(broker, queue)
    sent = broker.enqueue(message(queue))
    thread.join(timeout=10)

    assert not thread.is_alive()
    assert [m.message_id for m in received] == [sent.message_id]
    consumer.ack(received[0])
    consumer.close()


def test_a_consumer_with_a_full_prefetch_leaves_the_tokens_to_others(broker):
    queue = new_queue(broker)
    for _ in range(3):
        broker.enqueue(message(queue))
    consumer = broker.consume(queue, prefetch=1, timeout=IDLE_TIMEOUT_MS)

    first = next(consumer)
    assert first is not None
    assert next(consumer) is None  # prefetch full: returns at once, nothing taken

    assert broker.client.llen(wake_key(queue)) == 3
    consumer.ack(first)
    consumer.close()


def test_tokens_are_capped_for_a_queue_nobody_consumes(broker):
    queue = new_queue(broker)
    for _ in range(WAKE_TOKENS + 10):
        broker.enqueue(message(queue))

    assert broker.client.llen(wake_key(queue)) == WAKE_TOKENS
    assert broker.client.llen(f"dramatiq:{queue}") == WAKE_TOKENS + 10


def test_a_delayed_message_wakes_the_delay_queue(broker):
    queue = new_queue(broker)
    broker.enqueue(message(queue), delay=60_000)

    assert broker.client.llen(wake_key(f"{queue}.DQ")) == 1
    assert broker.client.llen(wake_key(queue)) == 0


def wait_until_blocked(broker, queue: str) -> int:
    """The id of the client blocked on ``queue``'s wake list."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for client in broker.client.client_list():
            if client["cmd"] == "blpop":
                return int(client["id"])
        time.sleep(0.01)
    raise AssertionError(f"no consumer of {queue} waits on its wake list")


def test_a_wait_cut_off_from_redis_restarts_the_consumer_and_abandons_the_identity(broker):
    queue = new_queue(broker)
    consumer = broker.consume(queue, prefetch=1, timeout=IDLE_TIMEOUT_MS)
    identity = broker.broker_id
    raised = []

    def consume() -> None:
        try:
            next(consumer)
        except ConnectionClosed as error:
            raised.append(error)

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    broker.client.client_kill_filter(_id=wait_until_blocked(broker, queue))
    thread.join(timeout=10)

    assert not thread.is_alive()
    assert raised
    # The restarted consumer forgets the delayed messages it held; they stay leased under
    # the old identity, which falls silent, so a maintenance pass puts them back.
    assert broker.broker_id != identity


def test_every_job_of_a_burst_runs_on_a_worker_that_waits_on_wake_tokens(broker):
    queue = new_queue(broker)
    done = set()
    lock = threading.Lock()

    def record(n: int) -> None:
        with lock:
            done.add(n)

    actor = dramatiq.actor(record, broker=broker, queue_name=queue, actor_name=f"rec_{queue}")
    worker = Worker(broker, queues={queue}, worker_threads=2, worker_timeout=1_000)
    worker.start()
    try:
        for n in range(50):
            actor.send(n)
        deadline = time.monotonic() + 30
        while len(done) < 50 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop(timeout=5_000)

    assert done == set(range(50))
