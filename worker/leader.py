"""A Redis lease that elects one scheduler process as the leader.

The holder renews the lease well before it expires; a holder that dies stops renewing and
the key expires on its own, so another process takes over within ``ttl_ms``. Acquire and
renew are one atomic script, so two processes never both believe they hold it.
"""

from __future__ import annotations

import os
import socket
import uuid

import redis

LEADER_KEY = "cartfleet:scheduler:leader"

# Renew when we hold it, take it when it is free, report whether we hold it now.
_ACQUIRE = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return 1
end
if not holder then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
    return 1
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


def default_identity() -> str:
    """``host:pid:random``: readable in ``jobs list``, unique across restarts."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class LeaderLease:
    """The scheduler leader lease on ``key``, held for ``ttl_ms`` after each renewal."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        ttl_ms: int = 30_000,
        identity: str | None = None,
        key: str = LEADER_KEY,
    ) -> None:
        self.client = client
        self.ttl_ms = ttl_ms
        self.identity = identity or default_identity()
        self.key = key
        self._acquire = client.register_script(_ACQUIRE)
        self._release = client.register_script(_RELEASE)

    def acquire_or_renew(self) -> bool:
        """Take the lease if it is free or renew it if it is ours; True when we hold it."""
        return bool(self._acquire(keys=[self.key], args=[self.identity, self.ttl_ms]))

    def release(self) -> bool:
        """Give the lease up at once (clean shutdown), only if we still hold it."""
        return bool(self._release(keys=[self.key], args=[self.identity]))


def current_leader(client: redis.Redis, *, key: str = LEADER_KEY) -> dict[str, object] | None:
    """Who holds the lease and for how many more milliseconds, or None."""
    with client.pipeline() as pipe:
        pipe.get(key)
        pipe.pttl(key)
        holder, ttl_ms = pipe.execute()
    if holder is None:
        return None
    return {"id": holder.decode(), "expires_in_ms": max(int(ttl_ms), 0)}
