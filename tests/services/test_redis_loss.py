"""Jobs Redis lost with its data are pushed again, once, by the relay."""

from __future__ import annotations

import uuid

import dramatiq
import pytest

from jobs.outbox import relay_outbox
from models.db import Session
from services import outbox, redis_loss


@pytest.fixture
def recorder(broker):
    """An actor that appends its argument to a Redis list (outside the wiped keys)."""
    key = f"test:calls:{uuid.uuid4().hex}"

    @dramatiq.actor(actor_name=f"record_{uuid.uuid4().hex[:8]}", queue_name="test", max_retries=0)
    def record(value: str) -> None:
        broker.client.rpush(key, value)

    record.calls = lambda: [item.decode() for item in broker.client.lrange(key, 0, -1)]
    return record


def wipe_queues(broker) -> None:
    """What a Redis restarted without its data leaves: no message, no marker."""
    for key in broker.client.keys("dramatiq:*"):
        broker.client.delete(key)
    broker.client.delete(redis_loss.MARKER_KEY)


def test_jobs_pushed_before_redis_lost_its_data_are_pushed_again_once(broker, recorder, request):
    with Session.begin() as session:
        outbox.enqueue(session, recorder, "paid-order")  # pushed and marked sent
    outbox.sent_marks.flush()
    wipe_queues(broker)  # ... then lost before any worker took it

    assert relay_outbox() == 1
    assert relay_outbox() == 0  # the marker is back: nothing more to resend
    # The worker starts only now: one running from the start could take the first push
    # before the wipe, and the resend would rightly run it a second time.
    request.getfixturevalue("drain_queues")()

    assert recorder.calls() == ["paid-order"]


def test_nothing_is_resent_while_redis_keeps_its_data(broker, recorder, drain_queues):
    with Session.begin() as session:
        outbox.enqueue(session, recorder, "once")
    drain_queues()
    outbox.sent_marks.flush()

    assert redis_loss.resend_if_lost() == 0
    drain_queues()

    assert recorder.calls() == ["once"]


def test_a_resend_that_cannot_reach_redis_leaves_the_marker_unset(broker, recorder, monkeypatch):
    with Session.begin() as session:
        outbox.enqueue(session, recorder, "later")
    outbox.sent_marks.flush()
    wipe_queues(broker)
    monkeypatch.setattr(outbox, "push", lambda pending: [])  # every push fails

    assert redis_loss.resend_if_lost() == 0

    assert not broker.client.exists(redis_loss.MARKER_KEY)
