"""record_cart_event: cart writes land in cart_events once, through the outbox and a worker."""

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


def test_cart_writes_are_recorded_by_the_worker(client, drain_queues):
    with Session.begin() as session:
        factories.product(session, "A")
    cart_id = client.post("/api/carts", json={}).json["id"]
    client.post(f"/api/carts/{cart_id}/items", json={"sku": "A", "quantity": 2})
    client.patch(f"/api/carts/{cart_id}/items/A", json={"quantity": 1})
    client.delete(f"/api/carts/{cart_id}/items/A")
    drain_queues()

    assert events() == [
        ("created", None, None),
        ("item_added", "A", 2),
        ("item_updated", "A", 1),
        ("item_removed", "A", 0),
    ]
    with Session.begin() as session:
        assert {e.cart_id for e in session.scalars(select(CartEvent))} == {cart_id}


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
