"""The CSV export: the list's filters, one row per order or per line, formulas neutralised."""

from __future__ import annotations

import csv
import datetime as dt
import io

from models.db import Session
from tests.support import factories
from tests.web.admin_helpers import BOOTSTRAP


def export(client, query: str = "") -> tuple[object, list[list[str]]]:
    response = client.get(f"/admin/api/orders.csv?{query}", headers=BOOTSTRAP)
    return response, list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def orders(*emails: str, name: str = "Ada") -> None:
    with Session.begin() as session:
        factories.product(session, "TEE-1")
        factories.product(session, "MUG-1")
        for email in emails:
            order = factories.order(session, lines={"TEE-1": 2, "MUG-1": 1}, email=email)
            order.shipping_address = {**order.shipping_address, "name": name}


def test_formula_cells_arrive_neutralised(client):
    orders("buyer@example.com", name='=HYPERLINK("http://evil.example","click")')
    orders("b2@example.com", name="@SUM(A1)")
    orders("b3@example.com", name="\tTab")

    response, rows = export(client)

    assert response.status_code == 200
    names = {row[rows[0].index("customer_name")] for row in rows[1:]}
    assert names == {'\'=HYPERLINK("http://evil.example","click")', "'@SUM(A1)", "'\tTab"}


def test_one_row_per_order_or_per_line_with_a_header_and_a_dated_file_name(client):
    orders("a@example.com", "b@example.com")

    response, rows = export(client, "from=2026-01-01&to=2030-01-01")
    _, lines = export(client, "lines=true&email=a@example.com")

    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        'filename="orders_2026-01-01_to_2030-01-01.csv"' in response.headers["Content-Disposition"]
    )
    assert rows[0][:3] == ["order_number", "created_at", "status"]
    assert len(rows) == 3
    assert lines[0][-5:] == ["sku", "item_name", "quantity", "unit_price_cents", "line_total_cents"]
    assert [(line[6], line[-1]) for line in lines[1:]] == [("MUG-1", "1000"), ("TEE-1", "2000")]


def test_the_export_applies_the_lists_filters(client):
    orders("keep@example.com", "drop@example.com")
    with Session.begin() as session:
        factories.order(
            session, email="old@example.com", created_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
        )

    _, by_customer = export(client, "customer=KEEP")
    _, by_date = export(client, "to=2021-01-01")

    assert [row[3] for row in by_customer[1:]] == ["keep@example.com"]
    assert [row[3] for row in by_date[1:]] == ["old@example.com"]


def test_bad_filters_are_refused(client):
    response, _ = export(client, "status=lost")

    assert response.status_code == 422
