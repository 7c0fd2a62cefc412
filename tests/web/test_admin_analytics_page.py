"""The analytics page: the funnel and recovery figures over the chosen dates, with charts."""

from __future__ import annotations

import datetime as dt

from models.carts.tables import CartEvent
from models.db import Session
from tests.support import factories
from tests.web.admin_helpers import logged_in


def test_a_viewer_sees_the_funnel_of_the_chosen_dates(client):
    with Session.begin() as session:
        factories.product(session, "MUG-1")
        for day in (2, 2, 9):
            cart = factories.cart_row(session)
            at = dt.datetime(2026, 11, day, tzinfo=dt.UTC)
            session.add(CartEvent(cart_id=cart.id, kind="created", at=at))
            session.add(CartEvent(cart_id=cart.id, kind="item_added", sku="MUG-1", at=at))
    logged_in(client, "viewer")

    page = client.get("/admin/analytics?from=2026-11-01&to=2026-11-03").get_data(as_text=True)
    later = client.get("/admin/analytics?from=2026-11-08&to=2026-11-10").get_data(as_text=True)

    assert "2026-11-01 to 2026-11-03" in page
    assert '<td>cart created</td><td class="num">2</td>' in page
    assert '<td>checkout started</td><td class="num">0</td><td class="num">100.0 %</td>' in page
    assert '<td>payment succeeded</td><td class="num">0</td><td class="num">—</td>' in page
    assert '<td>MUG-1</td><td>Product MUG-1</td><td class="num">2</td>' in page
    assert page.count('<svg class="chart"') == 3 and 'id="recovered">0<' in page
    assert '<td>cart created</td><td class="num">1</td>' in later


def test_a_bad_period_is_a_422(client):
    logged_in(client, "viewer")

    response = client.get("/admin/analytics?from=2026-11-03&to=2026-11-01")

    assert response.status_code == 422 and response.json["error"] == "validation_error"
