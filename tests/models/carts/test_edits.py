"""Cart writes: version and status checks, first price kept, item versions."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, event

from models import errors
from models.carts import batch, edits, lifecycle, reads
from models.carts.tables import Cart, SavedItem
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


def test_claim_for_write_touches_in_one_statement_and_a_refusal_changes_nothing():
    with Session.begin() as session:
        cart_id = factories.cart(session).id
        abandoned_id = factories.cart(session).id
        session.get(Cart, abandoned_id).status = "abandoned"
        checkout_id = factories.cart(session).id
        session.get(Cart, checkout_id).status = "checkout"
    with Session() as session:
        before = session.get(Cart, cart_id)
        stamped = (before.version, before.last_activity_at, before.expires_at)
    with Session.begin() as session, pytest.raises(errors.VersionConflict) as conflict:
        lifecycle.claim_for_write(session, cart_id, expected_version=7)
    assert conflict.value.extra == {"current_version": 1}
    with Session.begin() as session, pytest.raises(errors.CartNotActive) as refused:
        lifecycle.claim_for_write(session, checkout_id)
    assert "checkout" in refused.value.message
    with Session.begin() as session, pytest.raises(errors.NotFound):
        lifecycle.claim_for_write(session, "missing")
    with Session() as session:
        after = session.get(Cart, cart_id)
        assert (after.version, after.last_activity_at, after.expires_at) == stamped
        assert session.get(Cart, checkout_id).version == 1
    with Session.begin() as session:
        claimed = lifecycle.claim_for_write(session, cart_id, expected_version=1)
        revived = lifecycle.claim_for_write(session, abandoned_id)
    assert (claimed.version, claimed.status, revived.status) == (2, "active", "active")
    with Session() as session:
        after = session.get(Cart, cart_id)
        assert after.version == 2 and after.last_activity_at > stamped[1]
        assert after.expires_at > stamped[2]
        assert session.get(Cart, abandoned_id).status == "active"


def test_a_write_waiting_on_the_lock_sees_the_line_the_first_one_added():
    with Session.begin() as session:
        factories.product(session, "A", stock={"main": 500})
        cart_id = factories.cart(session).id
    first = Session()
    first.begin()
    edits.add_item(first, cart_id=cart_id, sku="A", quantity=60, policy=POLICY)
    with ThreadPoolExecutor(max_workers=1) as pool:
        second = pool.submit(_add_in_own_transaction, cart_id, "A", 60)
        time.sleep(0.3)  # the second write now waits on the cart's row lock
        assert not second.done()
        first.commit()
        first.close()
        with pytest.raises(errors.InvalidItem):  # 120 > 99: not an integrity error
            second.result(timeout=10)
    view = _add_in_own_transaction(cart_id, "A", 39)
    assert [(line.sku, line.quantity) for line in view.lines] == [("A", 99)]
    assert view.version == 3


def _add_in_own_transaction(cart_id: str, sku: str, quantity: int) -> reads.CartView:
    with Session.begin() as session:
        return edits.add_item(session, cart_id=cart_id, sku=sku, quantity=quantity, policy=POLICY)


def test_a_write_answers_what_the_cart_holds_after_it():
    with Session.begin() as session:
        factories.product(session, "A", price_cents=500, stock={"main": 5})
        factories.product(session, "B", price_cents=300, stock={"main": 1})
        factories.product(session, "S", price_cents=200, stock={"main": 1})
        cart_id = factories.cart(session, items={"A": 1, "B": 1}).id
        session.add(SavedItem(cart_id=cart_id, sku="S", quantity=2))
    with Session.begin() as session:
        added = edits.add_item(session, cart_id=cart_id, sku="A", quantity=2, policy=POLICY)
    with Session.begin() as session:
        removed = edits.set_quantity(session, cart_id=cart_id, sku="B", quantity=0, policy=POLICY)
    for view in (added, removed):
        assert [(s.sku, s.quantity, s.in_stock) for s in view.saved] == [("S", 2, False)]
    assert [(line.sku, line.quantity, line.in_stock) for line in added.lines] == [
        ("A", 3, True),
        ("B", 1, True),
    ]
    assert removed == reads.read_view(cart_id, policy=POLICY)
    assert (removed.version, removed.subtotal_cents) == (3, 1500)


def test_an_add_is_four_statements_and_a_stock_read():
    with Session.begin() as session:
        factories.product(session, "A", stock={"main": 5})
        factories.product(session, "B", stock={"main": 5})
        cart_id = factories.cart(session, items={"A": 1}).id
    executed = []

    def count(_conn, _cursor, statement, *_args):
        executed.append(statement.split()[0])

    event.listen(Engine, "before_cursor_execute", count)
    try:
        with Session.begin() as session:
            view = edits.add_item(session, cart_id=cart_id, sku="B", quantity=2, policy=POLICY)
    finally:
        event.remove(Engine, "before_cursor_execute", count)
    # The claim, the contents, the stock read (its own connection) and the line's upsert.
    assert executed == ["UPDATE", "SELECT", "SELECT", "INSERT"]
    assert view == reads.read_view(cart_id, policy=POLICY)


def test_a_batch_moving_a_line_to_saved_and_back_answers_what_it_wrote():
    with Session.begin() as session:
        factories.product(session, "A", stock={"main": 5})
        factories.product(session, "B", stock={"main": 5})
        cart_id = factories.cart(session, items={"A": 2, "B": 1}).id
    operations = [
        batch.Operation(batch.Op.SAVE_FOR_LATER, "A"),
        batch.Operation(batch.Op.SAVE_FOR_LATER, "B", 1),
        batch.Operation(batch.Op.MOVE_TO_CART, "A"),
    ]
    with Session.begin() as session:
        view = batch.apply(session, cart_id=cart_id, operations=operations, policy=POLICY)
    assert [(line.sku, line.quantity) for line in view.lines] == [("A", 2)]
    assert [(s.sku, s.quantity) for s in view.saved] == [("B", 1)]
    assert view.version == 2
    assert view == reads.read_view(cart_id, policy=POLICY)
