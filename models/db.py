"""Engine and session factory, configured once per process (and again after fork)."""

from __future__ import annotations

import os

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import sessionmaker


class AppSession(OrmSession):
    """The project's session class; worker.outbox hooks its commit events."""


Session = sessionmaker(class_=AppSession, expire_on_commit=False)

_engine: Engine | None = None


def configure(url: str, **engine_options) -> Engine:
    """Create the process engine for ``url`` and bind ``Session`` to it (once per URL)."""
    global _engine
    if _engine is not None:
        if _engine.url.render_as_string(hide_password=False) == url and not engine_options:
            return _engine
        _engine.dispose()
    options = {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 10, "pool_timeout": 5}
    options.update(engine_options)
    options.setdefault("connect_args", {}).setdefault("connect_timeout", 5)
    _engine = create_engine(url, **options)
    Session.configure(bind=_engine)
    return _engine


def engine() -> Engine:
    if _engine is None:
        raise RuntimeError("models.db.configure() has not been called in this process")
    return _engine


def _after_fork_in_child() -> None:
    # Connections inherited from the parent must never be used by the child.
    if _engine is not None:
        _engine.dispose(close=False)


os.register_at_fork(after_in_child=_after_fork_in_child)
