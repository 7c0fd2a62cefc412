"""Middleware: every dead letter carries its final error and traceback, and is archived.

Dramatiq's Retries puts a ``traceback`` option on a failed message only when it retries
or gives up on retrying; for an exception the actor declares in ``throws`` (an expected
one) it fails the message without one, so the dead letter would carry no error, or the
error of an earlier attempt. The broker's ``nack`` then moves the message as it was
last enqueued, whose options are the previous attempt's. This middleware records the
exception of the final attempt on the message, rewrites the Redis entry with it (so
stock dashboards show it too) and archives the dead letter in PostgreSQL.
"""

from __future__ import annotations

import logging
import time
import traceback

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import Middleware
from prometheus_client import Counter

from models.base import utcnow
from models.db import Session
from models.infra import dead_letters as archive
from worker.dead_letters import archive_row, error_of, redis_keys

logger = logging.getLogger(__name__)

DEAD_LETTERED = Counter(
    "dramatiq_dead_lettered_messages_total",
    "Messages moved to a dead-letter queue, by queue and actor.",
    ["queue_name", "actor_name"],
)
TRACEBACK_FRAMES = 30  # as Dramatiq's Retries

# Rewrite the entry only if it is still dead-lettered (a purge may have come first).
_UPDATE_ENTRY = """
if redis.call('zscore', KEYS[1], ARGV[1]) then
    redis.call('hset', KEYS[2], ARGV[1], ARGV[2])
    return 1
end
return 0
"""


class DeadLetterRecorder(Middleware):
    """Keeps the final attempt's error on each dead letter, archives it, counts it.

    Listed after Retries, so its ``after_process_message`` runs before Retries' (after
    hooks run in reverse): it puts the attempt's traceback on the message, which
    Retries then replaces with the same one when it retries or gives up, and leaves
    when it fails the message for an expected exception.
    """

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: dramatiq.broker.MessageProxy,
        *,
        result: object = None,
        exception: BaseException | None = None,
    ) -> None:
        if exception is not None:
            message.options["traceback"] = "".join(
                traceback.format_exception(exception, limit=TRACEBACK_FRAMES)
            )

    def after_nack(self, broker: dramatiq.Broker, message: dramatiq.broker.MessageProxy) -> None:
        queue = message.queue_name.removesuffix(".DQ")
        DEAD_LETTERED.labels(queue_name=queue, actor_name=message.actor_name).inc()
        final = message.copy(
            options={
                "dead_lettered_at": int(time.time() * 1000),
                "error": error_of(message.options),
            }
        )
        redis_id = message.options.get("redis_message_id")
        if redis_id and isinstance(broker, RedisBroker):
            xq, msgs = redis_keys(broker, queue)
            broker.client.eval(_UPDATE_ENTRY, 2, xq, msgs, redis_id, final.encode())
        try:
            with Session.begin() as session:
                archive.record(session, [archive_row(queue, final, utcnow())])
        except Exception:
            # Redis still holds the entry; the next listing adopts it into the archive.
            logger.exception("Could not archive dead letter %s", message.message_id)
