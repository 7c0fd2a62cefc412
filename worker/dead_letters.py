"""Dramatiq's Redis dead-letter queues: list, requeue and purge (CLI and admin share these).

A message whose retries ran out is moved by the broker's ``nack`` to
``<namespace>:<queue>.XQ`` (a sorted set of Redis message ids scored by the time it was
dead-lettered, in ms) and ``<namespace>:<queue>.XQ.msgs`` (a hash of id -> encoded
message); dramatiq/brokers/redis/dispatch.lua is the reference. Entries expire after the
broker's ``dead_message_ttl`` (7 days).

``DeadLetterRecorder`` (middleware) rewrites the entry with the message as it stood after
its final attempt, so the listing shows the final error rather than the one before.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import Middleware
from prometheus_client import Counter

DEAD_LETTERED = Counter(
    "dramatiq_dead_lettered_messages_total",
    "Messages moved to a dead-letter queue, by queue and actor.",
    ["queue_name", "actor_name"],
)

# Options that belonged to the failed run, dropped when a message is requeued.
_RUN_OPTIONS = (
    "retries",
    "traceback",
    "requeue_timestamp",
    "eta",
    "redis_message_id",
    "dead_lettered_at",
    "error",
)

# Rewrite the entry only if it is still dead-lettered (a purge may have come first).
_UPDATE_ENTRY = """
if redis.call('zscore', KEYS[1], ARGV[1]) then
    redis.call('hset', KEYS[2], ARGV[1], ARGV[2])
    return 1
end
return 0
"""

# Move one entry back onto its queue atomically: exactly one caller wins the ZREM.
_REQUEUE = """
if redis.call('zrem', KEYS[1], ARGV[1]) == 0 then
    return 0
end
redis.call('hdel', KEYS[2], ARGV[1])
redis.call('hset', KEYS[4], ARGV[2], ARGV[3])
redis.call('rpush', KEYS[3], ARGV[2])
return 1
"""

_PURGE = """
if redis.call('zrem', KEYS[1], ARGV[1]) == 0 then
    return 0
end
redis.call('hdel', KEYS[2], ARGV[1])
return 1
"""


def final_error(traceback: str | None) -> str | None:
    """The exception line of a formatted traceback (its last non-blank line)."""
    lines = [line for line in (traceback or "").splitlines() if line.strip()]
    return lines[-1].strip() if lines else None


@dataclass(frozen=True)
class DeadLetter:
    redis_id: str
    queue: str
    message: dramatiq.Message
    failed_at: dt.datetime

    @property
    def message_id(self) -> str:
        return self.message.message_id

    @property
    def error(self) -> str | None:
        options = self.message.options
        return options.get("error") or final_error(options.get("traceback"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "queue": self.queue,
            "actor": self.message.actor_name,
            "args": list(self.message.args),
            "kwargs": self.message.kwargs,
            "retries": self.message.options.get("retries", 0),
            "failed_at": self.failed_at.isoformat(),
            "error": self.error,
        }


def _broker(broker: RedisBroker | None) -> RedisBroker:
    return broker or dramatiq.get_broker()


def _keys(broker: RedisBroker, queue: str) -> tuple[str, str]:
    xq = f"{broker.namespace}:{queue}.XQ"
    return xq, xq + ".msgs"


def queues(*, broker: RedisBroker | None = None) -> list[str]:
    """Every queue that has a dead-letter set, declared in this process or not."""
    broker = _broker(broker)
    prefix, suffix = f"{broker.namespace}:", ".XQ"
    found = set()
    for key in broker.client.scan_iter(match=f"{prefix}*{suffix}", count=1000):
        name = key.decode()[len(prefix) : -len(suffix)]
        if not name.endswith(".DQ"):
            found.add(name)
    return sorted(found)


def list_dead_letters(
    *,
    queue: str | None = None,
    actor: str | None = None,
    limit: int | None = None,
    broker: RedisBroker | None = None,
) -> list[DeadLetter]:
    """Dead letters, oldest first, optionally of one queue and/or actor."""
    broker = _broker(broker)
    letters: list[DeadLetter] = []
    for name in [queue] if queue else queues(broker=broker):
        xq, msgs = _keys(broker, name)
        entries = broker.client.zrange(xq, 0, -1, withscores=True)
        if not entries:
            continue
        bodies = broker.client.hmget(msgs, [redis_id for redis_id, _ in entries])
        for (redis_id, score), body in zip(entries, bodies, strict=True):
            if body is None:
                continue
            message = dramatiq.Message.decode(body)
            if actor and message.actor_name != actor:
                continue
            failed_at = dt.datetime.fromtimestamp(score / 1000, dt.UTC)
            letters.append(DeadLetter(redis_id.decode(), name, message, failed_at))
    letters.sort(key=lambda letter: letter.failed_at)
    return letters[:limit] if limit else letters


def count(queue: str, *, broker: RedisBroker | None = None) -> int:
    """How many messages sit in ``queue``'s dead-letter set."""
    broker = _broker(broker)
    return int(broker.client.zcard(_keys(broker, queue)[0]))


def find(message_id: str, *, broker: RedisBroker | None = None) -> DeadLetter | None:
    """The dead letter with this Dramatiq message id (or Redis entry id)."""
    for letter in list_dead_letters(broker=broker):
        if message_id in (letter.message_id, letter.redis_id):
            return letter
    return None


def requeue(letter: DeadLetter, *, broker: RedisBroker | None = None) -> bool:
    """Put the message back on its queue with its retries reset; False if already gone.

    The message keeps its id (so logs tie both runs together) and gets a fresh timestamp,
    so an actor ``max_age`` counts from the requeue.
    """
    broker = _broker(broker)
    options = {k: v for k, v in letter.message.options.items() if k not in _RUN_OPTIONS}
    options["requeued_at"] = int(time.time() * 1000)
    new_id = str(uuid.uuid4())
    options["redis_message_id"] = new_id
    message = dataclasses.replace(
        letter.message,
        queue_name=letter.queue,
        options=options,
        message_timestamp=int(time.time() * 1000),
    )
    xq, msgs = _keys(broker, letter.queue)
    queue_key = f"{broker.namespace}:{letter.queue}"
    moved = broker.client.eval(
        _REQUEUE,
        4,
        xq,
        msgs,
        queue_key,
        queue_key + ".msgs",
        letter.redis_id,
        new_id,
        message.encode(),
    )
    return bool(moved)


def purge(letter: DeadLetter, *, broker: RedisBroker | None = None) -> bool:
    """Delete one dead letter for good; False if it was already gone."""
    broker = _broker(broker)
    xq, msgs = _keys(broker, letter.queue)
    return bool(broker.client.eval(_PURGE, 2, xq, msgs, letter.redis_id))


def requeue_all(letters: Iterable[DeadLetter], *, broker: RedisBroker | None = None) -> int:
    return sum(requeue(letter, broker=broker) for letter in letters)


def purge_all(letters: Iterable[DeadLetter], *, broker: RedisBroker | None = None) -> int:
    return sum(purge(letter, broker=broker) for letter in letters)


class DeadLetterRecorder(Middleware):
    """Keeps the final attempt's error on each dead-lettered entry and counts dead letters.

    The broker's ``nack`` moves the message as it was last enqueued, whose traceback is
    the previous attempt's; this rewrites it with the options of the final attempt.
    """

    def after_nack(self, broker: RedisBroker, message: dramatiq.broker.MessageProxy) -> None:
        queue = message.queue_name.removesuffix(".DQ")
        DEAD_LETTERED.labels(queue_name=queue, actor_name=message.actor_name).inc()
        redis_id = message.options.get("redis_message_id")
        if not redis_id or not isinstance(broker, RedisBroker):
            return
        final = message.copy(
            options={
                "dead_lettered_at": int(time.time() * 1000),
                "error": final_error(message.options.get("traceback")),
            }
        )
        xq, msgs = _keys(broker, queue)
        broker.client.eval(_UPDATE_ENTRY, 2, xq, msgs, redis_id, final.encode())
