"""GET /admin/api/reconciliation: orders whose reservations could not be confirmed."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import text

from models.base import utcnow
from models.db import Session
from models.orders.tables import Order
from models.stock.tables import StockLevel
from tests.support import factories
from tests.web.admin_helpers import failed_confirmation

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


# --- figures, retry now, resolve ----------------------------------------------------------


def stock_of(sku: str) -> int:
    with Session() as session:
        return session.get(StockLevel, (sku, "main")).on_hand


def test_summary_of_the_errors(client, orders):
    failed_confirmation()

    summary = listing(client).json["summary"]

    assert summary["affected_orders"] == 4
    assert summary["top_products"] == [
        {"sku": "SKU-1", "orders": 3, "units_short": 3},
        {"sku": "SKU-9", "orders": 1, "units_short": 1},
    ]
    assert summary["top_reasons"] == [
        {"reason": "unknown", "errors": 3},
        {"reason": "insufficient stock to confirm reservation", "errors": 1},
    ]
    trend = summary["trend"]
    assert [day["day"] for day in trend] == [
        (utcnow().date() - dt.timedelta(days=back)).isoformat() for back in range(6, -1, -1)
    ]
    assert trend[-1] == {"day": utcnow().date().isoformat(), "orders": 1, "failures": 1}
    assert sum(day["orders"] for day in trend[:-1]) == 0


def test_the_view_lists_the_same_orders(client, orders):
    with Session() as session:
        ids = set(session.scalars(text("SELECT id::text FROM orders_with_reservation_errors")))
    assert ids == {orders["retrying"], orders["retrying_later"], orders["manual"]}


def test_retry_now_confirms_once_stock_is_back_and_the_order_leaves_the_list(client):
    order_id = failed_confirmation()
    failed = client.post(f"/admin/api/reconciliation/{order_id}/retry", headers=AUTH)
    assert failed.status_code == 200
    assert failed.json["outcome"] == "retrying" and failed.json["order"]["attempts"] == 1

    with Session.begin() as session:
        session.get(StockLevel, ("SKU-9", "main")).on_hand = 5  # the warehouse restocked
    response = client.post(f"/admin/api/reconciliation/{order_id}/retry", headers=AUTH)

    assert response.status_code == 200 and response.json["outcome"] == "confirmed"
    assert stock_of("SKU-9") == 3
    assert listing(client).json["items"] == []
    again = client.post(f"/admin/api/reconciliation/{order_id}/retry", headers=AUTH)
    assert again.status_code == 409 and again.json["error"] == "not_retryable"


def test_resolve_with_a_note_keeps_it_on_the_timeline(client, orders):
    order_id = orders["manual"]
    response = client.post(
        f"/admin/api/reconciliation/{order_id}/resolve",
        json={"note": "Warehouse found 1 unit; customer refunded the other"},
        headers=AUTH,
    )

    assert response.status_code == 200
    assert response.json["resolved_errors"] == ERRORS
    assert order_id not in {item["order_id"] for item in listing(client).json["items"]}
    with Session() as session:
        order = session.get(Order, uuid.UUID(order_id))
        assert order.needs_manual_reconciliation is False
        [event] = [e for e in order.events if e.kind == "reconciliation_resolved"]
    assert event.data == {
        "note": "Warehouse found 1 unit; customer refunded the other",
        "errors": ERRORS,
    }
    again = client.post(
        f"/admin/api/reconciliation/{order_id}/resolve", json={"note": "x"}, headers=AUTH
    )
    assert again.status_code == 409 and again.json["error"] == "nothing_to_resolve"


@pytest.mark.parametrize("action", ["retry", "resolve"])
def test_unknown_order_is_a_404_and_a_bad_body_a_422(client, orders, action):
    for order_id in ("not-a-uuid", str(uuid.uuid4())):
        response = client.post(
            f"/admin/api/reconciliation/{order_id}/{action}", json={"note": "n"}, headers=AUTH
        )
        assert response.status_code == 404
    if action == "resolve":
        response = client.post(
            f"/admin/api/reconciliation/{orders['manual']}/resolve", json={"note": ""}, headers=AUTH
        )
        assert response.status_code == 422
        assert [error["field"] for error in response.json["errors"]] == ["note"]
