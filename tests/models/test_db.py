"""The process engine survives the database dropping its connections."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from models import db
from worker import outbox


def backend_pid() -> int:
    with db.engine().connect() as connection:
        return connection.execute(text("SELECT pg_backend_pid()")).scalar_one()


def terminate_pool_connections() -> None:
    """What a database restart does to the connections the pool holds."""
    url = db.engine().url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(autouse=True)
def one_pooled_connection():
    """The pool starts empty, so each checkout below gets the one connection it made."""
    outbox.sent_marks.flush()  # and no background mark borrows a connection meanwhile
    db.engine().dispose()


def test_an_idle_connection_the_server_dropped_is_replaced_at_checkout(monkeypatch):
    before = backend_pid()
    terminate_pool_connections()
    monkeypatch.setattr(db, "PING_IDLE_AFTER_S", 0.0)  # every pooled connection is "idle"

    assert backend_pid() != before


def test_a_busy_connection_the_server_dropped_fails_once_then_the_pool_recovers(monkeypatch):
    backend_pid()
    terminate_pool_connections()
    monkeypatch.setattr(db, "PING_IDLE_AFTER_S", 3600.0)  # no connection is pinged

    with pytest.raises(OperationalError) as failure:
        backend_pid()
    assert failure.value.connection_invalidated

    assert backend_pid() > 0
