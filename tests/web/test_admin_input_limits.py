"""Client input past what PostgreSQL or Redis can hold is a 4xx, never a 5xx. Each case
was a 500: the totals and ids found by Schemathesis (``make test-api``), the queue offset
and the report period found beside them."""

from __future__ import annotations

import pytest

from web import cursors

ADMIN = {"Authorization": "Bearer test-admin-token"}
PAST_INT4 = 2**31


@pytest.mark.parametrize("parameter", ["min_total", "max_total"])
@pytest.mark.parametrize("path", ["/admin/api/orders", "/admin/api/orders.csv"])
def test_order_totals_past_an_integer_are_refused(client, path, parameter):
    response = client.get(f"{path}?{parameter}={PAST_INT4}", headers=ADMIN)

    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == parameter


def test_a_total_cursor_past_an_integer_is_refused(client):
    cursor = cursors.encode("total_desc", str(PAST_INT4), "00000000-0000-0000-0000-000000000001")

    response = client.get(f"/admin/api/orders?sort=total_desc&cursor={cursor}", headers=ADMIN)

    assert response.status_code == 422
    assert response.get_json()["errors"] == [
        {"field": "cursor", "message": "not a cursor of this listing and sort"}
    ]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PATCH", f"/admin/api/users/{PAST_INT4}"),
        ("GET", f"/admin/api/users/{PAST_INT4}/tokens"),
        ("POST", f"/admin/api/users/{PAST_INT4}/tokens"),
        ("DELETE", f"/admin/api/tokens/{PAST_INT4}"),
    ],
)
def test_user_and_token_ids_past_an_integer_are_not_found(client, method, path):
    response = client.open(path, method=method, json={}, headers=ADMIN)

    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"


def test_a_queue_offset_past_what_redis_takes_is_refused(client, broker):
    response = client.get(f"/admin/api/queues/webhooks/messages?offset={2**63}", headers=ADMIN)

    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "offset"


def test_a_report_period_ending_at_the_first_day_is_refused(client):
    response = client.get("/admin/api/analytics/funnel?to=0001-01-01T00:00:00Z", headers=ADMIN)

    assert response.status_code == 422
    assert response.get_json()["error"] == "validation_error"
