"""Queue depths, waiting messages and broker heartbeats, read from Dramatiq's Redis layout.

Per queue ``q`` (dramatiq/brokers/redis/dispatch.lua is the reference):
``dramatiq:q`` lists the ids waiting for a worker and ``dramatiq:q.msgs`` holds them and
the ones workers fetched but have not acknowledged; ``dramatiq:q.DQ.msgs`` holds retries
and delayed messages waiting out their delay. Dead letters are counted from the archive
(worker.dead_letters), which outlives Redis's 7-day expiry. Every broker process (each
worker, and a web process when it enqueues) stamps ``dramatiq:__heartbeats__``.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import dramatiq
from dramatiq.broker import MessageProxy
from dramatiq.brokers.redis import RedisBroker

from models.db import Session
from models.infra import dead_letters as archive
from services.redis_broker import redis_broker
from worker.dead_letters import redis_queues

MAX_PAGE = 500


def _broker(broker: RedisBroker | None) -> RedisBroker:
    return broker or redis_broker()


def _iso_ms(ms: float) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat()


def waiting_since_ms(message: dramatiq.Message[Any] | MessageProxy) -> int:
    """When the message became ready to run: its delay's end, else when it was sent."""
    return int(message.options.get("eta") or message.message_timestamp)


def queue_names(*, broker: RedisBroker | None = None) -> list[str]:
    """The queues declared in this process, and any other with dead letters."""
    broker = _broker(broker)
    with Session() as session:
        archived = set(archive.waiting_by_queue(session))
    return sorted(broker.get_declared_queues() | set(redis_queues(broker=broker)) | archived)


def queue_stats(*, broker: RedisBroker | None = None) -> list[dict[str, Any]]:
    """Per queue: ready, in progress, delayed and dead counts, and the oldest ready's age."""
    broker = _broker(broker)
    names = queue_names(broker=broker)
    with Session() as session:
        dead = archive.waiting_by_queue(session)
    pipe = broker.client.pipeline(transaction=False)
    for name in names:
        key = f"{broker.namespace}:{name}"
        pipe.llen(key).hlen(key + ".msgs").hlen(key + ".DQ.msgs").lindex(key, 0)
    replies = pipe.execute()
    heads = broker.client.pipeline(transaction=False)
    for index, name in enumerate(names):
        head_id = replies[index * 4 + 3]
        heads.hget(f"{broker.namespace}:{name}.msgs", head_id or "")
    bodies = heads.execute()
    now_ms = time.time() * 1000
    items = []
    for index, name in enumerate(names):
        ready, held, delayed, _ = replies[index * 4 : index * 4 + 4]
        body = bodies[index]
        oldest = None
        if body is not None:
            since = waiting_since_ms(dramatiq.Message.decode(body))
            oldest = round(max(0.0, now_ms - since) / 1000, 3)
        items.append(
            {
                "queue": name,
                "ready": ready,
                "in_progress": max(0, held - ready),
                "delayed": delayed,
                "dead": dead.get(name, 0),
                "oldest_age_s": oldest,
            }
        )
    return items


def workers(*, broker: RedisBroker | None = None) -> list[dict[str, Any]]:
    """Each broker process by its last heartbeat, latest first; ``alive`` within the timeout."""
    broker = _broker(broker)
    beats = broker.client.zrange(
        f"{broker.namespace}:__heartbeats__", 0, -1, desc=True, withscores=True
    )
    now_ms = time.time() * 1000
    return [
        {
            "id": worker_id.decode(),
            "last_heartbeat_at": _iso_ms(score),
            "age_s": round(max(0.0, now_ms - score) / 1000, 3),
            "alive": now_ms - score <= broker.heartbeat_timeout,
        }
        for worker_id, score in beats
    ]


def waiting_messages(
    queue: str, *, offset: int = 0, limit: int = 50, broker: RedisBroker | None = None
) -> list[dict[str, Any]]:
    """A page of the messages waiting on ``queue``, next to run first."""
    broker = _broker(broker)
    key = f"{broker.namespace}:{queue}"
    ids = broker.client.lrange(key, offset, offset + min(limit, MAX_PAGE) - 1)
    if not ids:
        return []
    items = []
    for body in broker.client.hmget(key + ".msgs", ids):
        if body is None:
            continue  # fetched and acknowledged since the range was read
        message = dramatiq.Message.decode(body)
        items.append(
            {
                "message_id": message.message_id,
                "actor": message.actor_name,
                "args": list(message.args),
                "kwargs": message.kwargs,
                "retries": message.options.get("retries", 0),
                "waiting_since": _iso_ms(waiting_since_ms(message)),
            }
        )
    return items
