"""GET /admin/api/reconciliation: orders whose reservations could not be confirmed."""

from __future__ import annotations

import datetime as dt

import pytest

from models.base import utcnow
from models.db import Session
from tests.support import factories

AUTH = {"Authorization": "Bearer test-admin-token"}
ERRORS = [{"sku": "SKU-1", "warehouse": "main", "quantity": 2, "available": 1}]


@pytest.fixture
def orders():
    """Two orders being retried, one given up on, two without errors."""
    now = utcnow()
    with Session.begin() as session:
        factories.product(session, "SKU-1")
        made = {}
        for name, hours_ago, columns in [
            ("retrying", 3, {"confirmation_errors": ERRORS}),
            (
                "retrying_later",
                2,
                {
                    "confirmation_errors": ERRORS,
                    "confirmation_attempts": 2,
                    "next_confirmation_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
                },
            ),
            (
                "manual",
                1,
                {
                    "confirmation_errors": ERRORS,
                    "confirmation_attempts": 5,
                    "needs_manual_reconciliation": True,
                },
            ),
            ("fine", 0, {}),
            ("resolved", 0, {"confirmation_errors": []}),
        ]:
            order = factories.order(
                session,
                status="paid",
                lines={"SKU-1": 2},
                created_at=now - dt.timedelta(hours=hours_ago),
            )
            for column, value in columns.items():
                setattr(order, column, value)
            made[name] = str(order.id)
    return made


def listing(client, **query):
    return client.get("/admin/api/reconciliation", query_string=query, headers=AUTH)


def test_requires_the_admin_token(client):
    assert client.get("/admin/api/reconciliation").status_code == 401


def test_lists_orders_with_confirmation_errors_newest_first(client, orders):
    response = listing(client)

    assert response.status_code == 200
    items = response.json["items"]
    assert [item["order_id"] for item in items] == [
        orders["manual"],
        orders["retrying_later"],
        orders["retrying"],
    ]
    manual = items[0]
    assert manual["needs_manual_reconciliation"] is True
    assert manual["attempts"] == 5
    assert manual["errors"] == ERRORS
    assert manual["status"] == "paid"
    assert items[1]["attempts"] == 2
    assert items[1]["next_attempt_at"] == "2026-01-01T00:00:00Z"
    assert items[2]["needs_manual_reconciliation"] is False
    assert response.json["next_cursor"] is None


def test_filters_by_state(client, orders):
    manual = listing(client, state="manual").json["items"]
    retrying = listing(client, state="retrying").json["items"]

    assert [item["order_id"] for item in manual] == [orders["manual"]]
    assert {item["order_id"] for item in retrying} == {orders["retrying"], orders["retrying_later"]}


def test_pages_with_a_cursor(client, orders):
    first = listing(client, limit=2).json
    second = listing(client, limit=2, cursor=first["next_cursor"]).json

    assert len(first["items"]) == 2
    assert [item["order_id"] for item in second["items"]] == [orders["retrying"]]
    assert second["next_cursor"] is None


@pytest.mark.parametrize(
    ("query", "field"),
    [({"limit": "0"}, "limit"), ({"state": "odd"}, "state"), ({"cursor": "!!"}, "cursor")],
)
def test_bad_query_is_a_422(client, query, field):
    response = listing(client, **query)

    assert response.status_code == 422
    assert response.json["error"] == "validation_error"
    assert [error["field"] for error in response.json["errors"]] == [field]
