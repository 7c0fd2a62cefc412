"""The process engine survives the database dropping its connections."""

from __future__ import annotations

import time

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError

from models import db
from services import outbox


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


def test_every_connection_ends_a_transaction_its_client_left_idle():
    with db.engine().connect() as connection:
        value = connection.execute(text("SHOW idle_in_transaction_session_timeout")).scalar_one()
    assert value == f"{db.IDLE_IN_TRANSACTION_TIMEOUT_MS // 1000}s"


def test_a_transaction_left_idle_is_ended_and_frees_its_locks(skus):
    """What a worker cut off mid-transaction looks like from the database: the locks go."""
    sku = skus[0]
    stuck = db.Session()
    stuck.begin()
    db.allow_idle(stuck, seconds=1)  # shorter than the default, for the test's sake
    stuck.execute(text("SELECT 1 FROM products WHERE sku = :sku FOR UPDATE"), {"sku": sku})
    time.sleep(2)

    with db.Session.begin() as other:
        locked = other.execute(
            text("SELECT sku FROM products WHERE sku = :sku FOR UPDATE NOWAIT"), {"sku": sku}
        ).scalar_one()
    assert locked == sku
    with pytest.raises(DBAPIError) as ended:
        stuck.execute(text("SELECT 1"))
    assert isinstance(ended.value.orig, psycopg.errors.IdleInTransactionSessionTimeout)
    stuck.close()


def test_allow_idle_lasts_for_its_transaction_only():
    with db.Session.begin() as session:
        db.allow_idle(session, seconds=90)
        inside = session.execute(text("SHOW idle_in_transaction_session_timeout")).scalar_one()
    with db.Session.begin() as session:
        after = session.execute(text("SHOW idle_in_transaction_session_timeout")).scalar_one()
    assert (inside, after) == ("90s", f"{db.IDLE_IN_TRANSACTION_TIMEOUT_MS // 1000}s")
