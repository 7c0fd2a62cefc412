"""Bounded stock reads for the storefront, on a pool of autocommit connections.

Cart and product pages show stock, but must not hang when the stock tables are slow or
locked: those reads run on a small pool of autocommit connections that carry
``statement_timeout`` from the moment they connect, so a read is one statement with no
transaction, savepoint or SET around it. They are advisory: reservations
(models.stock.reservations) lock the stock rows and are the only authority at checkout.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable
from typing import TypeVar

import psycopg
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.exc import OperationalError

from models import db
from models.stock import availability

logger = logging.getLogger(__name__)

T = TypeVar("T")

_readers: dict[tuple[Engine, int], Engine] = {}
_readers_lock = threading.Lock()


def stock_reader(timeout_ms: int) -> Engine:
    """The process's stock-read engine for the configured database and ``timeout_ms``."""
    key = (db.engine(), timeout_ms)
    reader = _readers.get(key)
    if reader is not None:
        return reader
    with _readers_lock:
        # Readers of an engine that ``db.configure`` replaced hold connections for nothing.
        for stale in [k for k in _readers if k[0] is not key[0]]:
            _readers.pop(stale).dispose()
        reader = _readers.get(key)
        if reader is None:
            reader = _readers[key] = create_engine(
                key[0].url,
                isolation_level="AUTOCOMMIT",
                # No ping per checkout (a round trip per read): ``read`` retries a read
                # that met a stale connection instead.
                pool_pre_ping=False,
                # As large as the main pool: a web process's threads all read stock, and
                # overflow connections are closed on return (a new backend per burst).
                pool_size=10,
                max_overflow=10,
                pool_timeout=5,
                connect_args={
                    "connect_timeout": 5,
                    "options": f"-c statement_timeout={int(timeout_ms)}",
                },
            )
    return reader


def _dispose_readers_after_fork() -> None:
    for reader in _readers.values():
        reader.dispose(close=False)


os.register_at_fork(after_in_child=_dispose_readers_after_fork)


def read(timeout_ms: int, query: Callable[[Connection], T]) -> T:
    """Run the read-only ``query`` on a stock-reader connection.

    A pooled connection the server dropped (restart, idle kill) is replaced and the read
    run once more (``db.with_connection``). A statement that hits the timeout raises
    ``OperationalError`` (see ``timed_out``).
    """
    return db.with_connection(stock_reader(timeout_ms), query)


def timed_out(error: OperationalError) -> bool:
    """Whether ``error`` is a statement cancelled by its timeout (not an outage)."""
    return isinstance(error.orig, psycopg.errors.QueryCanceled)


def checked_available_units(skus: Iterable[str], *, timeout_ms: int) -> dict[str, int] | None:
    """``available_units`` on the stock reader; None when the read timed out (unverifiable)."""
    wanted = sorted(set(skus))
    if not wanted:
        return {}
    try:
        return read(timeout_ms, lambda connection: availability.available_units(connection, wanted))
    except OperationalError as error:
        if not timed_out(error):
            raise
        logger.warning("Stock read timed out after %d ms for %d sku(s)", timeout_ms, len(wanted))
        return None
