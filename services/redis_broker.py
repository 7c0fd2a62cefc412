"""The process's Dramatiq broker as the Redis broker it is, for code that reads Redis."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker


def redis_broker() -> RedisBroker:
    """The global broker; Dramatiq types it as any ``Broker``, the fleet only runs on Redis."""
    broker = dramatiq.get_broker()
    if not isinstance(broker, RedisBroker):
        raise RuntimeError(f"the Dramatiq broker is a {type(broker).__name__}, not Redis")
    return broker
