"""Dead letters: list, requeue and purge from the PostgreSQL archive (CLI and admin share these).

A message whose retries ran out is moved by the broker's ``nack`` to
``<namespace>:<queue>.XQ`` (a sorted set of Redis message ids scored by the time it was
dead-lettered, in ms) and ``<namespace>:<queue>.XQ.msgs`` (a hash of id -> encoded
message); dramatiq/brokers/redis/dispatch.lua is the reference. Redis drops entries
after the broker's ``dead_message_ttl`` (7 days); the layout stays Dramatiq's, so stock
dashboards read it.

``worker.dead_letter_recorder`` archives each dead letter in ``dead_letters`` when it
dies. Every operation here first adopts Redis entries the archive lacks (one that died
while PostgreSQL was down, or before the archive existed), then works on the archive:
requeue and purge also remove the Redis entry when it is still there, so both agree.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker

from models.base import utcnow
from models.db import Session
from models.infra import dead_letters as archive
from services.redis_broker import redis_broker

logger = logging.getLogger(__name__)

# Options that belonged to the failed run, dropped when a message is requeued.
RUN_OPTIONS = (
    "retries",
    "traceback",
    "requeue_timestamp",
    "eta",
    "redis_message_id",
    "dead_lettered_at",
    "error",
)
BATCH = 100  # dead letters per transaction and Redis round trip in requeue and purge
NO_EXCEPTION = "failed without an exception (rejected by a middleware, e.g. older than max_age)"

# Remove the Redis dead letter (if still there) and enqueue the message, atomically.
_REQUEUE = """
redis.call('zrem', KEYS[1], ARGV[1])
redis.call('hdel', KEYS[2], ARGV[1])
redis.call('hset', KEYS[4], ARGV[2], ARGV[3])
redis.call('rpush', KEYS[3], ARGV[2])
"""

_PURGE = """
redis.call('zrem', KEYS[1], ARGV[1])
redis.call('hdel', KEYS[2], ARGV[1])
"""


def final_error(traceback: str | None) -> str | None:
    """The exception line of a formatted traceback (its last non-blank line)."""
    lines = [line for line in (traceback or "").splitlines() if line.strip()]
    return lines[-1].strip() if lines else None


def error_of(options: dict[str, Any]) -> str:
    """The error a dead message's options tell (never empty)."""
    return options.get("error") or final_error(options.get("traceback")) or NO_EXCEPTION


def archive_row(queue: str, message: dramatiq.Message, failed_at: dt.datetime) -> dict[str, Any]:
    """The ``dead_letters`` columns for ``message``, dead on ``queue`` at ``failed_at``."""
    return {
        "message_id": message.message_id,
        "redis_id": message.options.get("redis_message_id"),
        "queue": queue,
        "actor": message.actor_name,
        "args": list(message.args),
        "kwargs": message.kwargs,
        "options": message.options,
        "failed_at": failed_at,
        "retries": message.options.get("retries", 0),
        "error": error_of(message.options),
        "traceback": message.options.get("traceback"),
    }


def _broker(broker: RedisBroker | None) -> RedisBroker:
    return broker or redis_broker()


def redis_keys(broker: RedisBroker, queue: str) -> tuple[str, str]:
    """The dead-letter set and hash of ``queue``."""
    xq = f"{broker.namespace}:{queue}.XQ"
    return xq, xq + ".msgs"


def redis_queues(*, broker: RedisBroker | None = None) -> list[str]:
    """Every queue that has a Redis dead-letter set, declared in this process or not."""
    broker = _broker(broker)
    prefix, suffix = f"{broker.namespace}:", ".XQ"
    found = set()
    for key in broker.client.scan_iter(match=f"{prefix}*{suffix}", count=1000):
        name = key.decode()[len(prefix) : -len(suffix)]
        if not name.endswith(".DQ"):
            found.add(name)
    return sorted(found)


def adopt_redis_entries(*, broker: RedisBroker | None = None) -> None:
    """Archive the Redis dead letters the archive lacks (each death has its own entry id)."""
    broker = _broker(broker)
    rows = []
    with Session.begin() as session:
        for queue in redis_queues(broker=broker):
            xq, msgs = redis_keys(broker, queue)
            scores = dict(broker.client.zrange(xq, 0, -1, withscores=True))
            known = archive.archived_redis_ids(session, [key.decode() for key in scores])
            missing = [key for key in scores if key.decode() not in known]
            if not missing:
                continue
            for redis_id, body in zip(missing, broker.client.hmget(msgs, missing), strict=True):
                if body is not None:
                    # The entry's id is what requeue and purge remove it by.
                    message = dramatiq.Message.decode(body).copy(
                        options={"redis_message_id": redis_id.decode()}
                    )
                    failed_at = dt.datetime.fromtimestamp(scores[redis_id] / 1000, dt.UTC)
                    rows.append(archive_row(queue, message, failed_at))
        archive.record(session, rows)


def list_dead_letters(
    *,
    queue: str | None = None,
    actor: str | None = None,
    limit: int | None = None,
    broker: RedisBroker | None = None,
) -> list[archive.DeadLetter]:
    """Dead letters waiting (not requeued, not purged), oldest first."""
    adopt_redis_entries(broker=broker)
    with Session() as session:
        return archive.waiting(session, queue=queue, actor=actor, limit=limit)


def requeued_message(letter: archive.DeadLetter) -> dramatiq.Message:
    """The archived message ready to run again: same id, retries reset, fresh timestamp.

    The id ties both runs together in logs; the fresh timestamp makes an actor
    ``max_age`` count from the requeue.
    """
    options = {k: v for k, v in letter.options.items() if k not in RUN_OPTIONS}
    now_ms = int(time.time() * 1000)
    options.update(requeued_at=now_ms, redis_message_id=str(uuid.uuid4()))
    return dramatiq.Message(
        queue_name=letter.queue,
        actor_name=letter.actor,
        args=tuple(letter.args),
        kwargs=letter.kwargs,
        options=options,
        message_id=letter.message_id,
        message_timestamp=now_ms,
    )


Act = Callable[[redis.client.Pipeline, archive.DeadLetter], None]


def _act_on_batch(
    message_ids: Sequence[str] | None,
    queue: str | None,
    actor: str | None,
    act: Act,
    mark: str,
    broker: RedisBroker,
) -> list[archive.DeadLetter]:
    """Lock up to ``BATCH`` waiting letters selected, ``act`` on each, set their ``mark``.

    One transaction and one Redis MULTI/EXEC, run before the marks commit: a Redis
    failure leaves the batch as it was.
    """
    with Session.begin() as session:
        letters = archive.lock_waiting(
            session, message_ids=message_ids, queue=queue, actor=actor, limit=BATCH
        )
        if letters:
            pipe = broker.client.pipeline(transaction=True)
            for letter in letters:
                act(pipe, letter)
            pipe.execute()
            now = utcnow()
            for letter in letters:
                setattr(letter, mark, now)
    return letters


def _act_on_all(
    message_ids: Sequence[str] | None,
    queue: str | None,
    actor: str | None,
    act: Act,
    mark: str,
    broker: RedisBroker,
) -> list[archive.DeadLetter]:
    """``_act_on_batch`` over the letters named, or over every one matching, until none is left."""
    done: list[archive.DeadLetter] = []
    if message_ids is None:
        while batch := _act_on_batch(None, queue, actor, act, mark, broker):
            done.extend(batch)
        return done
    for start in range(0, len(message_ids), BATCH):
        chunk = message_ids[start : start + BATCH]
        done.extend(_act_on_batch(chunk, queue, actor, act, mark, broker))
    return done


def requeue(
    message_ids: Sequence[str] | None = None,
    *,
    queue: str | None = None,
    actor: str | None = None,
    broker: RedisBroker | None = None,
) -> list[archive.DeadLetter]:
    """Put dead letters back on their queues with retries reset; returns those requeued.

    ``message_ids`` None: every waiting letter matching ``queue``/``actor``. A letter
    already requeued, purged or being handled by another caller is left out, so each
    dead letter is requeued once. Works whether or not Redis still holds the entry.
    A commit lost after the push leaves the letter requeueable: a second run is
    harmless, as every actor is idempotent.
    """
    broker = _broker(broker)
    adopt_redis_entries(broker=broker)

    def push(pipe: redis.client.Pipeline, letter: archive.DeadLetter) -> None:
        message = requeued_message(letter)
        xq, msgs = redis_keys(broker, letter.queue)
        queue_key = f"{broker.namespace}:{letter.queue}"
        pipe.eval(
            _REQUEUE, 4, xq, msgs, queue_key, queue_key + ".msgs", letter.redis_id or "",
            message.options["redis_message_id"], message.encode(),
        )  # fmt: skip

    return _act_on_all(message_ids, queue, actor, push, "requeued_at", broker)


def purge(
    message_ids: Sequence[str] | None = None,
    *,
    queue: str | None = None,
    actor: str | None = None,
    broker: RedisBroker | None = None,
) -> list[archive.DeadLetter]:
    """Delete dead letters from Redis and mark them purged in the archive; returns those."""
    broker = _broker(broker)
    adopt_redis_entries(broker=broker)

    def delete(pipe: redis.client.Pipeline, letter: archive.DeadLetter) -> None:
        xq, msgs = redis_keys(broker, letter.queue)
        pipe.eval(_PURGE, 2, xq, msgs, letter.redis_id or "")

    return _act_on_all(message_ids, queue, actor, delete, "purged_at", broker)


def redis_count(queue: str, *, broker: RedisBroker | None = None) -> int:
    """How many entries ``queue``'s Redis dead-letter set holds (what stock dashboards show)."""
    broker = _broker(broker)
    return int(broker.client.zcard(redis_keys(broker, queue)[0]))
