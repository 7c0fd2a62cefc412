"""A Redis broker that gives its message leases up when its link to Redis broke.

Dramatiq's Redis broker leases every message it fetches: the message id goes into an ack
set named for the process's identity (``broker_id``), and leaves it when the message is
acked. Another process puts the leased messages back on their queue only once that
identity stops heart-beating, i.e. once the process is dead. A process that lives
through a network partition can drop a lease and go on heart-beating, and then the
message waits for the next restart of that process, which may be days away:

- Redis ran a fetch whose reply never arrived (the request got through, the answer was
  lost), so the messages sit in the ack set of a process that never saw them;
- a consumer that hits a connection error starts afresh without the messages it had
  prefetched and those it was holding until their retry time;
- an ack that times out is given up ("You've found a bug in Dramatiq"), not retried:
  Dramatiq retries it only on ``redis.ConnectionError``, and a timeout is not one;
- worse, a retry that ``Retries`` failed to schedule is acked all the same, which deletes
  the message (dramatiq PR #545).

So after any failed call this broker takes a new identity. The old one stops
heart-beating and, ``heartbeat_timeout`` later, every process's maintenance pass puts
back whatever is still leased under it. Messages the process was still working on when
it switched are acked under the new identity, which leaves their old lease in place:
they run a second time. Every actor is idempotent, so that costs work, not correctness.
The same rule saves the unscheduled retry: the failed enqueue changed the identity before
the ack, so the ack finds no lease to delete and the message runs again from its old
lease (its retry count as it was, since the retry that would have raised it never got
scheduled).

Failed calls raise ``BrokerUnreachable``, which is both Dramatiq's ``ConnectionClosed``
(so its consumers restart, its acks are retried until Redis answers, and closing a
consumer during an outage does not kill its thread) and a ``redis.ConnectionError`` (so
callers that answer 503 on Redis errors keep doing so).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.errors import ConnectionClosed

logger = logging.getLogger(__name__)

# redis.TimeoutError is not a redis.ConnectionError; BusyLoadingError (a restarted
# Redis still loading its data) is one.
LINK_ERRORS = (redis.ConnectionError, redis.TimeoutError)


class BrokerUnreachable(ConnectionClosed, redis.ConnectionError):
    """A broker call failed for want of Redis; whether Redis ran it is unknown."""


class LeaseRedisBroker(RedisBroker):
    """``RedisBroker`` that abandons its identity (and so its leases) on a failed call."""

    _link_up = True  # the last call answered; an outage is logged once, when it starts

    def _dispatch(self, command: str) -> Callable[..., Any]:
        dispatch = super()._dispatch(command)

        def guarded(queue_name: str, *args: Any) -> Any:
            try:
                result = dispatch(queue_name, *args)
            except LINK_ERRORS as error:
                self.abandon_leases(f"{command} on {queue_name} failed: {error}")
                raise BrokerUnreachable(str(error)) from error
            self._link_up = True
            return result

        return guarded

    def abandon_leases(self, reason: str) -> None:
        """Take a new identity; the old one's leases go back to their queues once it is
        ``heartbeat_timeout`` silent.

        Every failed call abandons the identity it may have used, even one taken a moment
        before by another thread: a call that failed may still have leased a message.
        """
        old, self.broker_id = self.broker_id, str(uuid.uuid4())
        log = logger.warning if self._link_up else logger.debug
        self._link_up = False
        log(
            "Broker identity %s abandoned for %s (%s); what it leased returns to its queue "
            "%d ms after its last heartbeat",
            old,
            self.broker_id,
            reason,
            self.heartbeat_timeout,
        )
