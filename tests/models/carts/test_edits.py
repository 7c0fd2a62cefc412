"""Cart writes: version and status checks, first price kept, item versions."""

from __future__ import annotations

import pytest

from models import errors
from models.carts import edits, lifecycle, reads
from models.carts.tables import Cart
from models.db import Session
from tests.support import factories

POLICY = reads.StockPolicy(timeout_ms=1000)


def test_lock_cart_checks_version_and_status():
    with Session.begin() as session:
        cart_id = factories.cart(session).id
    with Session.begin() as session, pytest.raises(errors.VersionConflict) as conflict:
        lifecycle.lock_for_write(session, cart_id, expected_version=7)
    assert conflict.value.extra == {"current_version": 1}
    with Session.begin() as session:
        lifecycle.lock_for_write(session, cart_id).status = "completed"
    with Session.begin() as session, pytest.raises(errors.CartNotActive):
        lifecycle.lock_for_write(session, cart_id)
    with Session.begin() as session, pytest.raises(errors.NotFound):
        lifecycle.lock_for_write(session, "missing")


def test_add_item_keeps_the_first_price_and_bumps_item_version():
    with Session.begin() as session:
        factories.product(session, "A", price_cents=500)
        cart_id = factories.cart(session, items={"A": 1}).id
        factories.product(session, "A", price_cents=700)
    with Session.begin() as session:
        view = edits.add_item(session, cart_id=cart_id, sku="A", quantity=2, policy=POLICY)
        item = session.get(Cart, cart_id).items[0]
        assert (item.quantity, item.unit_price_cents, item.version) == (3, 500, 2)
    assert view.lines[0].current_price_cents == 700 and view.version == 2
