"""Admin: dead letters from the archive (list, requeue one or in bulk, delete)."""

from __future__ import annotations

from pydantic import Field

from flows import dead_letters as letters_flow
from web.admin import bp
from web.validation import Schema, parse_body, parse_query
from worker import dead_letters


class DeadLetterQuery(Schema):
    queue: str | None = Field(None, max_length=128)
    actor: str | None = Field(None, max_length=128)
    limit: int = Field(100, ge=1, le=1000)


class BulkRequeue(Schema):
    queue: str | None = Field(None, max_length=128)
    actor: str | None = Field(None, max_length=128)


@bp.get("/api/dead-letters")
def list_dead_letters():
    query = parse_query(DeadLetterQuery)
    letters = dead_letters.list_dead_letters(
        queue=query.queue, actor=query.actor, limit=query.limit
    )
    return {"items": [letter.to_dict() for letter in letters]}


@bp.post("/api/dead-letters/<message_id>/requeue")
def requeue_dead_letter(message_id: str):
    letter = letters_flow.requeue_one(message_id)
    return {"requeued": 1, "message_id": message_id, "queue": letter.queue}


@bp.post("/api/dead-letters/requeue")
def requeue_dead_letters():
    body = parse_body(BulkRequeue)
    done = letters_flow.requeue(queue=body.queue, actor=body.actor)
    return {"requeued": len(done)}


@bp.delete("/api/dead-letters/<message_id>")
def delete_dead_letter(message_id: str):
    letters_flow.purge_one(message_id)
    return {"deleted": 1, "message_id": message_id}


__all__ = ["bp"]
