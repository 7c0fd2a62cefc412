"""The guarantee ``clean_state`` (tests/conftest.py) gives: whatever a test wrote, the next
one starts from empty tables, the default warehouse as the migrations leave it, restarted
sequences and an empty Redis db. The tests of this file run in this order."""

from __future__ import annotations

from sqlalchemy import func, select, text

import models
from models.db import Session, engine
from models.warehouses.tables import Warehouse
from services import redis_loss
from tests.support import factories
from worker.broker import broker

OWNED_SEQUENCES = text(
    "SELECT seq.relname, s.seqstart, pg_sequence_last_value(seq.oid) FROM pg_depend d "
    "JOIN pg_class seq ON seq.oid = d.objid AND seq.relkind = 'S' "
    "JOIN pg_sequence s ON s.seqrelid = seq.oid "
    "WHERE d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')"
)


def test_a_test_writes_everywhere_it_can():
    with Session.begin() as session:
        factories.product(session, "SKU-1", stock={"main": 3, "east": 4})
        factories.order(session, lines={"SKU-1": 1})
        session.get(Warehouse, "main").name = "Renamed"
    # Sequence values taken by a transaction that rolled back stay taken.
    with engine().connect() as connection:
        for name, _, _ in connection.execute(OWNED_SEQUENCES).all():
            connection.execute(text("SELECT nextval(:name)"), {"name": name})
        connection.rollback()
    broker.client.set("left-behind", 1)


def assert_the_migrations_state():
    with engine().connect() as connection:
        for table in models.Base.metadata.sorted_tables:
            count = connection.scalar(select(func.count()).select_from(table))
            assert count == (1 if table.name == "warehouses" else 0), table.name
        sequences = connection.execute(OWNED_SEQUENCES).all()
    assert sequences, "the schema has no serial columns to check"
    assert [(name, None) for name, _, _ in sequences] == [
        (name, last) for name, _, last in sequences
    ]
    with Session() as session:
        main = session.get(Warehouse, "main")
        assert (main.name, main.country, main.active) == ("Main warehouse", "US", True)
    # clean_state's setup marks Redis complete, as a running fleet has it.
    assert broker.client.keys() == [redis_loss.MARKER_KEY.encode()]


def test_the_next_one_starts_from_the_migrations_state():
    assert_the_migrations_state()


def test_a_test_only_edits_the_default_warehouse():
    with Session.begin() as session:
        session.get(Warehouse, "main").name = "Renamed"


def test_the_default_warehouse_is_put_back():
    assert_the_migrations_state()
