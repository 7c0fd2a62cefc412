"""The cart event log: one row per source id, none for a cart that is gone."""

from __future__ import annotations

from sqlalchemy import select

from models.base import utcnow
from models.carts import events
from models.carts.tables import CartEvent
from models.db import Session
from tests.support import factories


def logged() -> list[tuple]:
    with Session() as session:
        rows = session.scalars(select(CartEvent).order_by(CartEvent.id))
        return [(e.cart_id, e.kind, e.sku, e.quantity, e.source_id) for e in rows]


def test_a_repeated_source_id_appends_once():
    with Session.begin() as session:
        cart_id = factories.cart(session).id
    for _ in range(2):
        with Session.begin() as session:
            events.append(
                session, cart_id=cart_id, kind="item_added", sku="A", quantity=2,
                at=utcnow(), source_id=f"{cart_id}:2",
            )  # fmt: skip

    assert logged() == [(cart_id, "item_added", "A", 2, f"{cart_id}:2")]


def test_an_event_for_a_cart_that_is_gone_is_skipped():
    with Session.begin() as session:
        events.append(session, cart_id="gone", kind="created", at=utcnow(), source_id="gone:1")

    assert logged() == []
