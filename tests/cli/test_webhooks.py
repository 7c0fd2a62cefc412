"""``cartfleet webhooks`` and ``cartfleet dlq`` against the real inbox and Redis."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid

import dramatiq
import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

import worker.broker  # noqa: F401  (the actor below binds to the fleet's broker)
from cli import main as cartfleet
from cli.webhooks import parse_since
from models.base import utcnow
from models.db import Session
from models.inbox import WebhookEvent
from models.infra.outbox import OutboxMessage
from tests.support import factories, stripe_events
from worker import dead_letters


# Declared at collection, before any worker runs (see tests/worker/test_dead_letters.py).
@dramatiq.actor(actor_name="cli_test_declare", queue_name="cli_test")
def _declare_queue() -> None:
    """Never sent."""


def run(*args: str, input: str | None = None):
    result = CliRunner().invoke(cartfleet, list(args), input=input)
    return result


def stored_event(status: str, *, age: dt.timedelta = dt.timedelta()) -> str:
    event = stripe_events.event("payment_intent.succeeded", {"id": "pi_1"})
    with Session.begin() as session:
        factories.inbox_event(session, event)
        session.execute(
            update(WebhookEvent)
            .where(WebhookEvent.id == event["id"])
            .values(status=status, received_at=utcnow() - age)
        )
    return event["id"]


def replayed() -> list[str]:
    with Session() as session:
        rows = session.scalars(
            select(OutboxMessage).where(OutboxMessage.actor_name == "process_stripe_event")
        )
        return sorted(row.args[0] for row in rows)


def test_replay_defaults_to_dead_events(broker):
    dead, failed = stored_event("dead"), stored_event("failed")
    stored_event("processed")

    result = run("webhooks", "replay")
    assert result.exit_code == 0, result.output
    assert replayed() == [dead]

    run("webhooks", "replay", "--status", "failed", "--status", "dead")
    assert replayed() == sorted([dead, dead, failed])


def test_replay_by_id_and_since(broker):
    old = stored_event("dead", age=dt.timedelta(hours=5))
    recent = stored_event("dead", age=dt.timedelta(minutes=5))

    assert run("webhooks", "replay", "--since", "1h").exit_code == 0
    assert replayed() == [recent]
    assert run("webhooks", "replay", "--id", old).exit_code == 0
    assert replayed() == sorted([old, recent])


def test_parse_since_accepts_durations_and_iso_times():
    assert abs(parse_since("2h") - (utcnow() - dt.timedelta(hours=2))) < dt.timedelta(seconds=5)
    assert parse_since("2026-01-02T03:04:05") == dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert run("webhooks", "replay", "--since", "yesterday").exit_code == 2


def test_health_prints_json(broker):
    stored_event("processed")
    result = run("webhooks", "health")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["counts"]["processed"] == 1


@pytest.fixture
def dead_letter_pair(broker):
    """Two dead letters of two actors on queue ``cli_test``, put there like the broker does."""
    names = [f"cli_dead_{n}_{uuid.uuid4().hex[:6]}" for n in range(2)]
    for name in names:
        dramatiq.actor(lambda x: None, actor_name=name, queue_name="cli_test")
    letters = []
    for number, name in enumerate(names):
        message = dramatiq.Message(
            queue_name="cli_test",
            actor_name=name,
            args=(number,),
            kwargs={},
            options={"retries": 3, "traceback": "Traceback...\nValueError: boom"},
        )
        redis_id = str(uuid.uuid4())
        dead_at = int(time.time() * 1000) + number  # recent: older ones expire (7-day TTL)
        broker.client.zadd("dramatiq:cli_test.XQ", {redis_id: dead_at})
        broker.client.hset("dramatiq:cli_test.XQ.msgs", redis_id, message.encode())
        letters.append(message)
    return names, letters


def test_dlq_list_requeue_and_purge(broker, dead_letter_pair):
    names, letters = dead_letter_pair

    listing = run("dlq", "list", "--queue", "cli_test", "--json")
    items = json.loads(listing.stdout)
    assert [i["message_id"] for i in items] == [m.message_id for m in letters]
    assert items[0]["error"] == "ValueError: boom"
    assert "2 dead letter(s)" in run("dlq", "list").output

    requeued = run("dlq", "requeue", "--actor", names[0])
    assert "requeued 1" in requeued.output
    assert broker.do_qsize("cli_test") == 1
    [message] = [
        dramatiq.Message.decode(body) for body in broker.client.hvals("dramatiq:cli_test.msgs")
    ]
    assert message.message_id == letters[0].message_id
    assert "retries" not in message.options and "traceback" not in message.options

    assert run("dlq", "purge", "--queue", "cli_test", input="n\n").exit_code == 1
    assert dead_letters.redis_count("cli_test") == 1
    assert "purged 1" in run("dlq", "purge", letters[1].message_id, "--yes").output
    assert dead_letters.redis_count("cli_test") == 0
    assert "not found" in run("dlq", "requeue", "no-such-id").output
