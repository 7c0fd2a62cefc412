"""The stock reader: the reservation rule of inventory, dropped pooled connections."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text

from models import db
from models.base import utcnow
from models.db import Session
from models.stock import availability, reader, reservations
from tests.support import factories


def test_stock_reads_follow_the_reservation_rule_of_inventory():
    later, earlier = utcnow() + dt.timedelta(minutes=5), utcnow() - dt.timedelta(seconds=1)
    with Session.begin() as session:
        factories.product(session, "A", stock={"east": 2, "west": 5})
        factories.product(session, "B", stock={"main": 1})
        factories.product(session, "C", stock={})
        held, expired, released = (factories.order(session) for _ in range(3))
        reservations.reserve(
            session, order_id=held.id, quantities={"A": 3, "B": 1}, expires_at=later
        )
        reservations.reserve(session, order_id=expired.id, quantities={"A": 2}, expires_at=earlier)
        reservations.reserve(session, order_id=released.id, quantities={"A": 1}, expires_at=later)
        reservations.release(session, order_id=released.id)
    skus = ["A", "B", "C", "missing"]
    with Session.begin() as session:
        expected = availability.available_units(session, skus)
        assert availability.available_units(session.connection(), skus) == expected
    assert reader.checked_available_units(skus, timeout_ms=1000) == expected
    assert expected == {"A": 4, "B": 0, "C": 0, "missing": 0}


def test_a_stock_read_survives_the_server_dropping_pooled_connections():
    with Session.begin() as session:
        factories.product(session, "A", stock={"main": 3})
    assert reader.checked_available_units(["A"], timeout_ms=1000) == {"A": 3}
    with db.engine().connect() as admin:
        admin.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " AND backend_type = 'client backend' AND state = 'idle'"
            )
        )
    assert reader.checked_available_units(["A"], timeout_ms=1000) == {"A": 3}
