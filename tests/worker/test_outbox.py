"""Jobs written through the outbox reach a real worker exactly once, after commit only."""

from __future__ import annotations

import uuid

import dramatiq
import pytest
from sqlalchemy import func, select

from jobs.outbox import relay_outbox
from models.db import Session
from models.outbox import OutboxMessage
from tests.support.outages import redis_outage
from worker import outbox


@pytest.fixture
def recorder(broker):
    """An actor declared for this test that appends its argument to a Redis list."""
    key = f"test:calls:{uuid.uuid4().hex}"

    @dramatiq.actor(actor_name=f"record_{uuid.uuid4().hex[:8]}", queue_name="test", max_retries=0)
    def record(value: str) -> None:
        broker.client.rpush(key, value)

    def calls() -> list[str]:
        return [item.decode() for item in broker.client.lrange(key, 0, -1)]

    record.calls = calls
    return record


def unsent_count() -> int:
    with Session() as session:
        return session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.sent_at.is_(None))
        )


def test_committed_job_runs_in_worker_and_row_is_marked_sent(recorder, drain_queues):
    with Session.begin() as session:
        outbox.enqueue(session, recorder, "order-1")

    drain_queues()

    assert recorder.calls() == ["order-1"]
    assert unsent_count() == 0


def test_rolled_back_transaction_sends_nothing(recorder, drain_queues):
    with pytest.raises(RuntimeError), Session.begin() as session:
        outbox.enqueue(session, recorder, "never")
        raise RuntimeError("the change failed")

    drain_queues()

    assert recorder.calls() == []
    with Session() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_commit_while_redis_is_down_is_relayed_once_when_it_returns(broker, recorder, drain_queues):
    with redis_outage(broker), Session.begin() as session:
        outbox.enqueue(session, recorder, "paid-while-down")
    assert unsent_count() == 1

    relay_outbox.send()
    relay_outbox.send()  # a second relay run finds nothing left to send
    drain_queues()

    assert recorder.calls() == ["paid-while-down"]
    assert unsent_count() == 0


def test_relay_sends_in_bounded_batches(broker, recorder):
    with redis_outage(broker), Session.begin() as session:
        for number in range(7):
            outbox.enqueue(session, recorder, str(number))

    assert outbox.relay(batch_size=3, max_batches=2) == 6
    assert unsent_count() == 1
    assert outbox.relay(batch_size=3) == 1
    assert broker.do_qsize("test") == 7
