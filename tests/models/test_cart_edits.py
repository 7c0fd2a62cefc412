"""Cart writes: version and status checks, first price kept, item versions."""

from __future__ import annotations

import pytest

from models import cart_edits, cart_views, carts
from models.db import Session
from tests.support import factories

POLICY = cart_views.StockPolicy(timeout_ms=1000)


def test_lock_cart_checks_version_and_status():
    with Session.begin() as session:
        cart_id = factories.cart(session).id
    with Session.begin() as session, pytest.raises(carts.VersionConflict) as conflict:
        cart_edits.lock_cart(session, cart_id, expected_version=7)
    assert conflict.value.extra == {"current_version": 1}
    with Session.begin() as session:
        cart_edits.lock_cart(session, cart_id).status = "completed"
    with Session.begin() as session, pytest.raises(carts.CartNotActive):
        cart_edits.lock_cart(session, cart_id)
    with Session.begin() as session, pytest.raises(carts.NotFound):
        cart_edits.lock_cart(session, "missing")


def test_add_item_keeps_the_first_price_and_bumps_item_version():
    with Session.begin() as session:
        factories.product(session, "A", price_cents=500)
        cart_id = factories.cart(session, items={"A": 1}).id
        factories.product(session, "A", price_cents=700)
    with Session.begin() as session:
        view = cart_edits.add_item(session, cart_id=cart_id, sku="A", quantity=2, policy=POLICY)
        item = session.get(carts.Cart, cart_id).items[0]
        assert (item.quantity, item.unit_price_cents, item.version) == (3, 500, 2)
    assert view.lines[0].current_price_cents == 700 and view.version == 2
