"""Dead letters put back on their queues or deleted: one at a time, named, or by filter.

The archive and Redis work is ``worker.dead_letters``'s; this module decides what is
touched and answers ``NotFound`` for a letter that is not waiting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from models.errors import NotFound
from models.infra.dead_letters import DeadLetter
from worker import dead_letters


@dataclass(frozen=True)
class Selection:
    """The waiting letters chosen, and the ids named that are not waiting."""

    letters: list[DeadLetter]
    missing: list[str]


def select(
    message_ids: Sequence[str] = (), *, queue: str | None = None, actor: str | None = None
) -> Selection:
    """The waiting letters named (every one matching the filters when none is named)."""
    letters = dead_letters.list_dead_letters(queue=queue, actor=actor)
    if not message_ids:
        return Selection(letters, [])
    wanted = set(message_ids)
    missing = sorted(wanted - {letter.message_id for letter in letters})
    return Selection([letter for letter in letters if letter.message_id in wanted], missing)


def requeue_one(message_id: str) -> DeadLetter:
    """Requeue one letter with its retries reset; ``NotFound`` when it is not waiting."""
    done = dead_letters.requeue([message_id])
    if not done:
        raise _gone(message_id)
    return done[0]


def requeue(
    message_ids: Sequence[str] | None = None,
    *,
    queue: str | None = None,
    actor: str | None = None,
) -> list[DeadLetter]:
    """Requeue the letters named, or (``None``) every one matching the filters."""
    return dead_letters.requeue(message_ids, queue=queue, actor=actor)


def purge_one(message_id: str) -> DeadLetter:
    """Delete one letter for good (the archive keeps the mark); ``NotFound`` when gone."""
    done = dead_letters.purge([message_id])
    if not done:
        raise _gone(message_id)
    return done[0]


def purge(message_ids: Sequence[str]) -> list[DeadLetter]:
    """Delete the letters named for good; returns those deleted."""
    return dead_letters.purge(message_ids)


def _gone(message_id: str) -> NotFound:
    return NotFound(f"No dead letter {message_id} waiting.")
