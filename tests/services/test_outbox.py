"""Jobs written through the outbox reach a real worker exactly once, after commit only."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import dramatiq
import pytest
from sqlalchemy import func, select

from jobs.outbox import relay_outbox
from models.db import Session
from models.infra.outbox import OutboxMessage
from models.orders.tables import Order
from services import outbox
from services.sent_marks import SentMarks
from tests.support.outages import database_outage, redis_outage


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
    outbox.sent_marks.flush()

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


def test_commit_while_redis_is_down_is_relayed_once_when_it_returns(
    broker, recorder, drain_queues, monkeypatch
):
    monkeypatch.setattr(outbox, "RELAY_AFTER", dt.timedelta(0))
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

    now = dt.timedelta(0)
    assert outbox.relay(batch_size=3, max_batches=2, older_than=now) == 6
    assert unsent_count() == 1
    assert outbox.relay(batch_size=3, older_than=now) == 1
    assert broker.do_qsize("test") == 7


def test_jobs_of_a_rolled_back_savepoint_are_not_sent(recorder, drain_queues):
    with Session.begin() as session:
        outbox.enqueue(session, recorder, "kept")
        with pytest.raises(RuntimeError), session.begin_nested():
            outbox.enqueue(session, recorder, "undone")
            raise RuntimeError("the inner change failed")
        with session.begin_nested():
            outbox.enqueue(session, recorder, "released")

    drain_queues()

    assert sorted(recorder.calls()) == ["kept", "released"]
    with Session() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 2


def test_a_session_closed_without_commit_sends_nothing(recorder, drain_queues):
    with Session() as session:
        outbox.enqueue(session, recorder, "abandoned")

    drain_queues()

    assert recorder.calls() == []


def test_relay_leaves_rows_younger_than_the_grace_to_their_own_process(broker, recorder):
    with redis_outage(broker), Session.begin() as session:
        outbox.enqueue(session, recorder, "just-committed")

    assert outbox.relay() == 0
    assert outbox.relay(older_than=dt.timedelta(0)) == 1
    assert unsent_count() == 0


def test_pushed_rows_are_marked_sent_by_the_background_thread(broker, recorder):
    with Session.begin() as session:
        for number in range(3):
            outbox.enqueue(session, recorder, str(number))
    assert broker.do_qsize("test") == 3

    deadline = time.monotonic() + 5
    while unsent_count() and time.monotonic() < deadline:
        time.sleep(0.02)

    assert unsent_count() == 0


def test_marks_that_fail_are_retried_until_the_database_answers(broker, recorder):
    with redis_outage(broker), Session.begin() as session:
        row_id = outbox.enqueue(session, recorder, "pushed-before-the-outage")
    marks = SentMarks(outbox._MARK_SENT)

    with database_outage():
        marks.add([row_id])
        time.sleep(0.3)  # its first tries fail

    deadline = time.monotonic() + 5
    while unsent_count() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert unsent_count() == 0


def test_after_commit_actions_run_on_commit_only():
    ran = []
    with Session.begin() as session:
        outbox.after_commit(session, lambda: ran.append("committed"))
        with session.begin_nested():
            pass  # releasing a savepoint is not the commit
        assert ran == []
    with pytest.raises(RuntimeError), Session.begin() as session:
        outbox.after_commit(session, lambda: ran.append("rolled back"))
        raise RuntimeError
    assert ran == ["committed"]
    with Session() as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 0


def test_after_commit_action_of_a_rolled_back_savepoint_is_dropped():
    ran = []
    with Session.begin() as session:
        outbox.after_commit(session, lambda: ran.append("outer"))
        savepoint = session.begin_nested()
        outbox.after_commit(session, lambda: ran.append("savepoint"))
        savepoint.rollback()
    assert ran == ["outer"]
