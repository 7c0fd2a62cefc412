"""Admin analytics JSON: the period, its validation, the figures of the recorded rows."""

from __future__ import annotations

import datetime as dt

from models.carts.tables import CartEvent
from models.db import Session
from tests.support import factories

AUTH = {"Authorization": "Bearer test-admin-token"}


def test_funnel_over_a_period(client):
    with Session.begin() as session:
        cart = factories.cart_row(session)
        at = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)
        session.add(CartEvent(cart_id=cart.id, kind="created", at=at))

    inside = client.get("/admin/api/analytics/funnel?from=2026-11-01&to=2026-11-03", headers=AUTH)
    outside = client.get(
        "/admin/api/analytics/funnel?from=2026-11-03T00:00:00Z&to=2026-11-04", headers=AUTH
    )

    assert inside.status_code == 200
    assert inside.json["from"] == "2026-11-01T00:00:00Z"
    assert inside.json["steps"][0] == {"step": "cart_created", "count": 1, "abandonment_rate": None}
    assert outside.json["steps"][0]["count"] == 0


def test_recovery_defaults_to_the_last_30_days(client):
    response = client.get("/admin/api/analytics/recovery", headers=AUTH)

    assert response.status_code == 200
    start = dt.datetime.fromisoformat(response.json["from"])
    end = dt.datetime.fromisoformat(response.json["to"])
    assert end - start == dt.timedelta(days=30)
    assert response.json["reminders_sent"] == {"email_1": 0, "push": 0, "email_2": 0}
    assert response.json["recovery_rate"] is None


def test_bad_periods_and_no_token(client):
    backwards = client.get(
        "/admin/api/analytics/recovery?from=2026-11-03&to=2026-11-01", headers=AUTH
    )
    garbage = client.get("/admin/api/analytics/funnel?from=yesterday", headers=AUTH)

    assert (backwards.status_code, backwards.json["error"]) == (422, "validation_error")
    assert garbage.json["errors"][0]["field"] == "from"
    assert client.get("/admin/api/analytics/funnel").status_code == 401
