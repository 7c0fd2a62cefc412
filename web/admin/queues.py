"""Admin: queue depths, the messages waiting on a queue, and broker heartbeats."""

from __future__ import annotations

from pydantic import Field

from web.admin import bp
from web.errors import APIError
from web.validation import Schema, parse_query
from worker import queues


class MessagesQuery(Schema):
    # Redis takes 64-bit offsets; no queue is anywhere near this long.
    offset: int = Field(0, ge=0, le=2**31 - 1)
    limit: int = Field(50, ge=1, le=queues.MAX_PAGE)


@bp.get("/api/queues")
def list_queues():
    """Per queue ready, in progress, delayed, dead and the oldest ready message's age."""
    return {"items": queues.queue_stats(), "workers": queues.workers()}


@bp.get("/api/queues/<queue>/messages")
def queue_messages(queue: str):
    """A page of the messages waiting on ``queue``, next to run first."""
    query = parse_query(MessagesQuery)
    if queue not in queues.queue_names():
        raise APIError(404, "not_found", f"No queue {queue}.")
    items = queues.waiting_messages(queue, offset=query.offset, limit=query.limit)
    return {"queue": queue, "offset": query.offset, "items": items}


__all__ = ["bp"]
