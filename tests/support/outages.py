"""Real dependency outages: point a live client at a port where nothing listens."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from dramatiq.brokers.redis import RedisBroker

from devtools import embedded
from models import db


@contextlib.contextmanager
def redis_outage(broker: RedisBroker) -> Iterator[None]:
    """Every Redis call of ``broker`` fails with a connection error until the block ends."""
    pool = broker.client.connection_pool
    saved = dict(pool.connection_kwargs)
    pool.connection_kwargs.update(host="127.0.0.1", port=embedded.free_port())
    pool.reset()
    try:
        yield
    finally:
        pool.connection_kwargs.clear()
        pool.connection_kwargs.update(saved)
        pool.reset()


@contextlib.contextmanager
def database_outage() -> Iterator[None]:
    """The process engine points at a closed port until the block ends."""
    url = db.engine().url.render_as_string(hide_password=False)
    db.configure(
        db.engine()
        .url.set(host="127.0.0.1", port=embedded.free_port(), query={})
        .render_as_string(hide_password=False),
        pool_pre_ping=False,
    )
    try:
        yield
    finally:
        db.configure(url)
