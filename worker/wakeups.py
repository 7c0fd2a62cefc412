"""Consumers woken by the enqueue that feeds them, instead of polling with a backoff.

Dramatiq's Redis consumer polls an empty queue with an exponential backoff that grows to
the worker timeout (1 s), and a consumer whose prefetch is full sleeps on the same
backoff before it hands its acks back and fetches again. So a message that lands on a
quiet queue waits 0.5 to 1 s for its consumer, and a payment crosses two queues (its
webhook, then its confirmation email) before the buyer hears of it; under load, a busy
consumer fetches its next batch up to a second after its threads ran dry.

Here every enqueue also pushes a token on its queue's wake list. A consumer that found
its queue empty blocks on that list (``BLPOP``) for up to the worker timeout, so it
fetches as soon as a message lands; one whose prefetch is full pauses a few milliseconds
and loops, so its acks go back and its next fetch follows as soon as a thread is free.

A token is a hint, never the record: the queue is. Tokens are capped per queue, so a
queue nobody consumes holds at most ``WAKE_TOKENS``, and a spare token costs one empty
fetch. A message that arrives without a token (put back by a maintenance pass, enqueued
by another tool, or whose token push failed) waits at most the worker timeout, as it did
with Dramatiq's polling.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from dramatiq import Message
from dramatiq.brokers.redis import _RedisConsumer

from worker.leases import LINK_ERRORS, BrokerUnreachable, LeaseRedisBroker

logger = logging.getLogger(__name__)

WAKE_TOKENS = 16
# How long a consumer whose prefetch is full waits before it loops to hand acks back.
FULL_PREFETCH_PAUSE_S = 0.005


def wake_key(queue_name: str) -> str:
    """The list of wake tokens for a queue (delay queues have their own)."""
    return f"cartfleet:wake:{queue_name}"


class WakingConsumer(_RedisConsumer):
    """Dramatiq's Redis consumer, waiting on its queue's wake list when it finds nothing."""

    def __init__(self, broker: WakingRedisBroker, queue_name: str, prefetch: int, timeout: int):
        # Dramatiq's own backoff never sleeps (timeout 0); the wait is ours.
        super().__init__(broker, queue_name, prefetch, 0)
        self.idle_timeout_s = timeout / 1000
        self.wake_key = wake_key(queue_name)

    def __next__(self) -> Any:
        message = super().__next__()
        if message is not None:
            return message
        if self.outstanding_message_count >= self.prefetch:
            # Nothing was fetched because the prefetch is full: the tokens are left for
            # consumers that can take work, and the acks go back on the next loop.
            time.sleep(FULL_PREFETCH_PAUSE_S)
            return None
        try:
            self.broker.client.blpop([self.wake_key], timeout=self.idle_timeout_s)
        except LINK_ERRORS as error:
            # The consumer restarts and forgets the delayed messages it was holding, which
            # stay leased: as after any failed call, the identity goes (worker/leases.py).
            self.broker.abandon_leases(f"waiting on {self.queue_name} failed: {error}")
            raise BrokerUnreachable(str(error)) from error
        return None


class WakingRedisBroker(LeaseRedisBroker):
    """``LeaseRedisBroker`` whose enqueues wake the consumers of their queue."""

    @property
    def consumer_class(self) -> type[WakingConsumer]:
        return WakingConsumer

    def enqueue(self, message: Message[Any], *, delay: int | None = None) -> Message[Any]:
        enqueued: Message[Any] = super().enqueue(message, delay=delay)
        key = wake_key(enqueued.queue_name)
        try:
            with self.client.pipeline(transaction=False) as pipe:
                pipe.lpush(key, 1).ltrim(key, 0, WAKE_TOKENS - 1).execute()
        except LINK_ERRORS as error:
            # The message is on its queue; its consumer finds it within the worker timeout.
            logger.debug("No wake token for %s: %s", enqueued.queue_name, error)
        return enqueued
