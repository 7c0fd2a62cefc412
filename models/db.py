"""Engine and session factory, configured once per process (and again after fork)."""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, CursorResult, Engine, Executable, create_engine, event, exc, text
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

T = TypeVar("T")


class AppSession(OrmSession):
    """The project's session class; services.outbox hooks its commit events."""


Session = sessionmaker(class_=AppSession, expire_on_commit=False)

# A connection used this recently is trusted as is; an older one is pinged at checkout.
PING_IDLE_AFTER_S = 10.0

# PostgreSQL ends a transaction that waits this long for its client's next statement,
# which frees its row locks. A process cut off mid-transaction (a network partition, a
# frozen VM) would otherwise keep them until TCP gives up, hours later, and every
# checkout of the skus it had locked would wait that long. The application's own
# statements follow each other within milliseconds; the few transactions that wait on
# the network on purpose say so with ``allow_idle``.
IDLE_IN_TRANSACTION_TIMEOUT_MS = 15_000

_engine: Engine | None = None
_autocommit: Engine | None = None


def configure(url: str, **engine_options: Any) -> Engine:
    """Create the process engine for ``url`` and bind ``Session`` to it (once per URL)."""
    global _engine, _autocommit
    if _engine is not None:
        if _engine.url.render_as_string(hide_password=False) == url and not engine_options:
            return _engine
        _engine.dispose()
    options: dict[str, Any] = {"pool_size": 10, "max_overflow": 10, "pool_timeout": 5}
    options.update(engine_options)
    connect_args: dict[str, Any] = options.setdefault("connect_args", {})
    connect_args.setdefault("connect_timeout", 5)
    connect_args.setdefault(
        "options", f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_TIMEOUT_MS}"
    )
    _engine = create_engine(url, **options)
    if not options.get("pool_pre_ping"):
        _ping_when_idle(_engine)
    _autocommit = _engine.execution_options(isolation_level="AUTOCOMMIT")
    Session.configure(bind=_engine)
    return _engine


def allow_idle(session: OrmSession, *, seconds: float) -> None:
    """Let this transaction wait up to ``seconds`` between statements (an SMTP
    conversation under a row lock), instead of ``IDLE_IN_TRANSACTION_TIMEOUT_MS``."""
    session.execute(
        text("SELECT set_config('idle_in_transaction_session_timeout', :ms, true)"),
        {"ms": str(int(seconds * 1000))},
    )


def engine() -> Engine:
    if _engine is None:
        raise RuntimeError("models.db.configure() has not been called in this process")
    return _engine


def autocommit_engine() -> Engine:
    """The same pool, each statement its own transaction: for single-statement writes.

    Skips the BEGIN and COMMIT round trips that would wrap one statement.
    """
    if _autocommit is None:
        raise RuntimeError("models.db.configure() has not been called in this process")
    return _autocommit


def flush_if_pending(session: OrmSession, *classes: type) -> None:
    """Flush ``session`` if it holds unflushed changes to instances of ``classes``.

    For Core statements about to run on ``session.connection()``, which skips autoflush:
    they must see the caller's changes to the rows they read, and only those force a
    flush (the rest go in one batch at commit).
    """
    if any(
        isinstance(instance, classes)
        for instance in itertools.chain(session.new, session.dirty, session.deleted)
    ):
        session.flush()


def expire_loaded(session: OrmSession, cls: type, idents: Iterable[Any]) -> None:
    """Expire the instances of ``cls`` with these primary keys that ``session`` holds.

    After Core statements changed their rows, so a later read reloads them.
    """
    for ident in idents:
        loaded = session.identity_map.get(session.identity_key(cls, ident))
        if loaded is not None:
            session.expire(loaded)


def with_connection(target: Engine, work: Callable[[Connection], T]) -> T:
    """Run ``work`` on a connection of ``target``, once more if that one was stale.

    A pooled connection the server dropped (restart, idle kill) fails its first use and
    is invalidated, with every connection pooled before it; ``work`` is then run again
    on a fresh one. Only for work that is safe to repeat (reads, idempotent writes).
    """
    for attempt in (1, 2):
        try:
            with target.connect() as connection:
                return work(connection)
        except exc.DBAPIError as error:
            if attempt == 2 or not error.connection_invalidated:
                raise
    raise AssertionError("unreachable")


def _ping_when_idle(target: Engine) -> None:
    """``pool_pre_ping``, but only for connections idle longer than ``PING_IDLE_AFTER_S``.

    A ping is a round trip on every checkout; under traffic a connection was used a
    moment ago, so the ping buys nothing. Should the server restart under traffic
    anyway, the first statement on a dead connection fails (a 503 or a job retry, unless
    it ran through ``with_connection``), and SQLAlchemy then recycles every connection
    the pool held before that moment.
    """

    @event.listens_for(target, "checkin")
    def _stamp(dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry) -> None:
        record.info["checked_in_at"] = time.monotonic()

    @event.listens_for(target, "checkout")
    def _ping(
        dbapi_connection: DBAPIConnection,
        record: ConnectionPoolEntry,
        proxy: PoolProxiedConnection,
    ) -> None:
        checked_in_at = record.info.get("checked_in_at")
        if checked_in_at is None or time.monotonic() - checked_in_at < PING_IDLE_AFTER_S:
            return
        try:
            target.dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise exc.DisconnectionError("idle connection failed its ping") from error


def _after_fork_in_child() -> None:
    # Connections inherited from the parent must never be used by the child.
    if _engine is not None:
        _engine.dispose(close=False)


os.register_at_fork(after_in_child=_after_fork_in_child)


def affected_rows(session: OrmSession, statement: Executable) -> int:
    """Run an INSERT, UPDATE or DELETE; the number of rows it touched.

    ``Session.execute`` is typed as returning any ``Result``; a DML statement's is a
    ``CursorResult``, the one that has a row count.
    """
    return cast("CursorResult[Any]", session.execute(statement)).rowcount
