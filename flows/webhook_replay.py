"""Replaying stored Stripe events: handing them to ``process_stripe_event`` again.

The jobs are written to the outbox in the caller's transaction; the processor applies an
event at most once whatever happens, so a replay is always safe. Events refused for a
reason (a PaymentIntent, amount or currency that disagrees with its order) are final and
never replayed.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from jobs.stripe_events import process_stripe_event
from models import inbox, inbox_queries
from models.inbox_queries import EventFilter
from services import outbox

MAX_EVENTS = 10_000


def replay(session: Session, *, ids: Sequence[str]) -> list[str]:
    """Replay the events named; returns those the processor will take (known, not refused)."""
    return _enqueue(session, inbox.replay_ids(session, ids=tuple(ids)))


def replay_matching(session: Session, *, where: EventFilter, limit: int = MAX_EVENTS) -> list[str]:
    """Replay every event matching ``where`` that is not processed, oldest first."""
    return _enqueue(session, inbox_queries.replayable_ids(session, where=where, limit=limit))


def _enqueue(session: Session, ids: list[str]) -> list[str]:
    for event_id in ids:
        outbox.enqueue(session, process_stripe_event, event_id)
    return ids
