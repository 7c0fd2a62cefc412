"""Admin: Dramatiq's dead-letter queues (list, requeue one or in bulk, delete)."""

from __future__ import annotations

from pydantic import Field

from web.admin import bp
from web.errors import APIError
from web.validation import Schema, parse_body, parse_query
from worker import dead_letters


class DeadLetterQuery(Schema):
    queue: str | None = Field(None, max_length=128)
    actor: str | None = Field(None, max_length=128)
    limit: int = Field(100, ge=1, le=1000)


class BulkRequeue(Schema):
    queue: str | None = Field(None, max_length=128)
    actor: str | None = Field(None, max_length=128)


def _query() -> DeadLetterQuery:
    return parse_query(DeadLetterQuery)


def _letter(message_id: str) -> dead_letters.DeadLetter:
    letter = dead_letters.find(message_id)
    if letter is None:
        raise APIError(404, "not_found", f"No dead letter {message_id}.")
    return letter


@bp.get("/api/dead-letters")
def list_dead_letters():
    query = _query()
    letters = dead_letters.list_dead_letters(
        queue=query.queue, actor=query.actor, limit=query.limit
    )
    return {"items": [letter.to_dict() for letter in letters]}


@bp.post("/api/dead-letters/<message_id>/requeue")
def requeue_dead_letter(message_id: str):
    letter = _letter(message_id)
    if not dead_letters.requeue(letter):
        raise APIError(404, "not_found", f"Dead letter {message_id} is already gone.")
    return {"requeued": 1, "message_id": letter.message_id, "queue": letter.queue}


@bp.post("/api/dead-letters/requeue")
def requeue_dead_letters():
    body = parse_body(BulkRequeue)
    letters = dead_letters.list_dead_letters(queue=body.queue, actor=body.actor)
    return {"requeued": dead_letters.requeue_all(letters)}


@bp.delete("/api/dead-letters/<message_id>")
def delete_dead_letter(message_id: str):
    letter = _letter(message_id)
    if not dead_letters.purge(letter):
        raise APIError(404, "not_found", f"Dead letter {message_id} is already gone.")
    return {"deleted": 1, "message_id": letter.message_id}


__all__ = ["bp"]
