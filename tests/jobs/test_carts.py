"""record_cart_event: the messages a previous release queued land in cart_events once."""

from __future__ import annotations

from sqlalchemy import select

from jobs.carts import record_cart_event
from models.base import utcnow
from models.carts.tables import CartEvent
from models.db import Session
from tests.support import factories


def events():
    with Session.begin() as session:
        return [
            (e.kind, e.sku, e.quantity)
            for e in session.scalars(select(CartEvent).order_by(CartEvent.at))
        ]


def test_a_redelivered_event_is_recorded_once(broker):
    with Session.begin() as session:
        cart_id = factories.cart(session).id
    at = utcnow().isoformat()
    for _ in range(2):
        record_cart_event.fn(cart_id, "item_added", "A", 1, at, f"{cart_id}:2")
    assert events() == [("item_added", "A", 1)]


def test_an_event_for_a_purged_cart_is_skipped(broker):
    record_cart_event.fn("gone", "created", None, None, utcnow().isoformat(), "gone:1")
    assert events() == []
