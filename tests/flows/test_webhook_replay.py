"""Replaying stored events: the one flow behind the admin API, the pages and the CLI."""

from __future__ import annotations

from sqlalchemy import select

from flows import webhook_replay
from models.db import Session
from models.inbox_queries import EventFilter
from models.infra.outbox import OutboxMessage
from tests.support import factories, stripe_events


def stored(status: str, *, reason: str | None = None) -> str:
    event = stripe_events.event("payment_intent.succeeded", {"id": "pi_1"})
    with Session.begin() as session:
        factories.inbox_event(session, event, status=status).reason = reason
    return event["id"]


def jobs_written() -> list[tuple[str, list]]:
    with Session() as session:
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        return [(row.actor_name, row.args) for row in rows]


def test_replaying_by_id_writes_a_processor_job_for_each_known_event(broker):
    dead, processed = stored("dead"), stored("processed")

    with Session.begin() as session:
        replayed = webhook_replay.replay(session, ids=[dead, processed, "evt_unknown"])

    assert replayed == [dead, processed]
    assert jobs_written() == [
        ("process_stripe_event", [dead]),
        ("process_stripe_event", [processed]),
    ]


def test_an_event_refused_for_a_reason_is_never_replayed(broker):
    refused = stored("failed", reason="amount_mismatch")

    with Session.begin() as session:
        assert webhook_replay.replay(session, ids=[refused]) == []
        assert webhook_replay.replay_matching(session, where=EventFilter(status="failed")) == []

    assert jobs_written() == []


def test_replaying_matching_events_skips_the_processed_ones(broker):
    dead, failed, _ = stored("dead"), stored("failed"), stored("processed")

    with Session.begin() as session:
        everything = webhook_replay.replay_matching(session, where=EventFilter())

    assert sorted(everything) == sorted([dead, failed])


def test_nothing_is_written_when_the_callers_transaction_rolls_back(broker):
    dead = stored("dead")

    with Session() as session:
        session.begin()
        webhook_replay.replay(session, ids=[dead])
        session.rollback()

    assert jobs_written() == []
