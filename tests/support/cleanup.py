"""Putting the test database back as the migrations leave it, after every test.

Every table empty but ``warehouses``, which holds only the default warehouse (id 1);
every sequence a table owns restarted. TRUNCATE does that for all tables in one
statement, but it gives each table and index a new file, costly enough to dominate a
short test. Most tests write to a few tables, so the reset asks first which tables and
sequences a test changed and empties only those, with DELETE (cheap for the few rows a
test writes). The default warehouse counts as changed when it is not the single row the
last reset inserted (same ``xmin``: an UPDATE writes a new row version).
"""

from __future__ import annotations

from sqlalchemy import Connection, Table, text

DEFAULT_WAREHOUSE = (
    "INSERT INTO warehouses (code, name, country) VALUES ('main', 'Main warehouse', 'US') "
    "RETURNING xmin::text"
)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class DatabaseReset:
    """Call with a connection (not in a transaction) after each test."""

    def __init__(self, tables: list[Table]) -> None:
        # Children before parents, so that no DELETE trips a foreign key.
        self._tables = [table.name for table in reversed(tables)]
        self._warehouse_xmin: str | None = None  # unknown: reset it on the first call
        self._sequences: dict[str, tuple[str, int]] | None = None
        self._triggered: set[str] | None = None

    def __call__(self, connection: Connection) -> None:
        with connection.begin():
            self._reset(connection)

    def _reset(self, connection: Connection) -> None:
        sequences = self._owned_sequences(connection)
        dirty_tables = set(connection.execute(text(self._dirty_tables_query())).scalars())
        dirty_sequences = {
            name
            for name, last_value in connection.execute(
                text(
                    "SELECT sequencename, last_value FROM pg_sequences "
                    "WHERE schemaname = current_schema() AND sequencename = ANY(:names)"
                ),
                {"names": list(sequences)},
            )
            if last_value is not None
        }
        # (A sequence of warehouses would be dirty after every reset's insert: correct, slow.)
        if any(sequences[name][0] == "warehouses" for name in dirty_sequences):
            dirty_tables.add("warehouses")
        triggered = self._tables_with_triggers(connection)
        for table in self._tables:
            if table in dirty_tables:
                # A row trigger may refuse the DELETE (an append-only table); TRUNCATE
                # fires none (CASCADE: its children are empty by now anyway).
                statement = "TRUNCATE {} CASCADE" if table in triggered else "DELETE FROM {}"
                connection.execute(text(statement.format(_quote(table))))
        for name, (table, start) in sequences.items():
            if name in dirty_sequences or table in dirty_tables:
                connection.execute(
                    text("SELECT setval(:name, :start, false)"),
                    {"name": _quote(name), "start": start},
                )
        if "warehouses" in dirty_tables:
            self._warehouse_xmin = connection.execute(text(DEFAULT_WAREHOUSE)).scalar_one()

    def _dirty_tables_query(self) -> str:
        checks = [
            f"SELECT '{table}' WHERE EXISTS (SELECT FROM {_quote(table)})"
            for table in self._tables
            if table != "warehouses"
        ]
        # A second warehouse, the default one updated or deleted: all change the xmin set.
        checks.append(
            "SELECT 'warehouses' WHERE (SELECT array_agg(xmin::text) FROM warehouses) "
            f"IS DISTINCT FROM ARRAY['{self._warehouse_xmin}']"
        )
        return " UNION ALL ".join(checks)

    def _tables_with_triggers(self, connection: Connection) -> set[str]:
        if self._triggered is None:
            self._triggered = set(
                connection.execute(
                    text(
                        "SELECT DISTINCT c.relname FROM pg_trigger t "
                        "JOIN pg_class c ON c.oid = t.tgrelid "
                        "WHERE NOT t.tgisinternal "
                        "AND c.relnamespace = current_schema()::regnamespace"
                    )
                ).scalars()
            )
        return self._triggered

    def _owned_sequences(self, connection: Connection) -> dict[str, tuple[str, int]]:
        """Sequence name: (its table, its start), for the sequences the tables own (serial
        and identity columns); a free-standing sequence is left alone, as TRUNCATE's
        RESTART IDENTITY leaves it."""
        if self._sequences is None:
            rows = connection.execute(
                text(
                    "SELECT seq.relname, tab.relname, s.seqstart FROM pg_depend d "
                    "JOIN pg_class seq ON seq.oid = d.objid AND seq.relkind = 'S' "
                    "JOIN pg_class tab ON tab.oid = d.refobjid "
                    "JOIN pg_sequence s ON s.seqrelid = seq.oid "
                    "WHERE d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') "
                    "AND tab.relnamespace = current_schema()::regnamespace "
                    "AND tab.relname = ANY(:tables)"
                ),
                {"tables": self._tables},
            )
            self._sequences = {sequence: (table, start) for sequence, table, start in rows}
        return self._sequences
