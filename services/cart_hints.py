"""Live-cart hints: every committed cart change publishes ``{"cart_id", "version"}``.

One listener on the project's session class sees every flush; a ``Cart`` whose version
changed (an ORM write bumps it through ``lifecycle.touch``) or that was created is
published, and so is every cart that the Core statements (which bypass the ORM: item
writes, cart creation, completion, abandonment) note in ``session.info``; each is
published on Redis pub/sub once the outermost transaction commits, never on rollback
(``outbox.after_commit``). The realtime gateway (``realtime/``) passes hints on to the
cart's open pages, which refetch the cart.

Pub/sub is at-most-once and a hint is only a nudge, so a publish that fails (Redis down)
is logged and dropped: the write has committed and must not fail, and clients catch up
by the version gap, the gateway's resync after a reconnect, or polling. After a failure
publishing pauses for ``PAUSE_AFTER_FAILURE_S`` so an outage costs a write at most one
short timeout.
"""

from __future__ import annotations

import logging
import threading
import time

import redis
from sqlalchemy import event
from sqlalchemy.orm import Session, attributes

from models.carts.lifecycle import STATEMENT_VERSIONS_KEY
from models.carts.tables import Cart
from models.db import AppSession
from services import outbox
from services.hint_wire import CHANNEL, encode

logger = logging.getLogger(__name__)

TIMEOUT_S = 0.25
PAUSE_AFTER_FAILURE_S = 2.0


class Publisher:
    """Publishes hints on one Redis client; pauses after a failure."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = redis.Redis.from_url(
            url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S
        )
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def publish(self, hints: dict[str, int]) -> int:
        """Publish each ``cart_id: version``; returns how many went (never raises)."""
        if time.monotonic() < self._paused_until:
            return 0
        try:
            pipe = self.client.pipeline(transaction=False)
            for cart_id, version in hints.items():
                pipe.publish(CHANNEL, encode(cart_id, version))
            pipe.execute()
        except redis.RedisError:
            with self._lock:
                self._paused_until = time.monotonic() + PAUSE_AFTER_FAILURE_S
            logger.warning("Cart hints not published (%d); clients will catch up", len(hints))
            return 0
        return len(hints)


_publisher: Publisher | None = None


def install(redis_url: str) -> None:
    """Publish hints to ``redis_url`` from this process on (again: another URL)."""
    global _publisher
    if _publisher is not None and _publisher.url == redis_url:
        return
    _publisher = Publisher(redis_url) if redis_url else None


def changed_carts(session: Session) -> dict[str, int]:
    """The carts this flush created or gave a new version, with that version."""
    changed = {}
    for instance in (*session.new, *session.dirty):
        if not isinstance(instance, Cart):
            continue
        if instance in session.new or attributes.get_history(instance, "version").has_changes():
            changed[instance.id] = instance.version
    return changed


@event.listens_for(AppSession, "after_flush")
def _hint_after_commit(session: Session, _flush_context: object) -> None:
    publisher = _publisher
    if publisher is None:
        return
    hints = changed_carts(session)
    if hints:
        outbox.after_commit(session, lambda: publisher.publish(hints))


@event.listens_for(AppSession, "before_commit")
def _hint_statement_changes(session: Session) -> None:
    hints = session.info.pop(STATEMENT_VERSIONS_KEY, None)
    publisher = _publisher
    if hints and publisher is not None:
        outbox.after_commit(session, lambda: publisher.publish(hints))


@event.listens_for(AppSession, "after_rollback")
def _forget_statement_changes(session: Session) -> None:
    session.info.pop(STATEMENT_VERSIONS_KEY, None)
