"""Every status change goes through ``transition``: forward only, one timeline line each."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models import errors
from models.db import Session
from models.orders import fulfilment
from models.orders.status import OrderStatus, transition
from models.orders.tables import Order
from models.orders.timeline import OrderEvent
from tests.support import factories


def timeline(order_id) -> list[tuple[str, dict]]:
    with Session() as session:
        events = session.scalars(
            select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)
        )
        return [(event.kind, event.data) for event in events]


def test_transition_moves_forward_and_writes_one_line(skus):
    with Session.begin() as session:
        order = factories.order(session, status="pending_payment", lines={"SKU-1": 1})
        assert transition(session, order, OrderStatus.PAID, event_id="evt_1")
        order_id = order.id

    assert timeline(order_id) == [
        ("status_changed", {"from": "pending_payment", "to": "paid", "event_id": "evt_1"})
    ]


@pytest.mark.parametrize(
    ("current", "proposed"),
    [
        ("paid", OrderStatus.PAYMENT_FAILED),
        ("paid", OrderStatus.CANCELED),
        ("refunded", OrderStatus.PAID),
        ("shipped", OrderStatus.SHIPPED),
    ],
)
def test_transition_never_moves_backwards_nor_sideways(skus, current, proposed):
    with Session.begin() as session:
        order = factories.order(session, status=current, lines={"SKU-1": 1})
        assert not transition(session, order, proposed)
        order_id = order.id

    with Session() as session:
        assert session.get(Order, order_id).status == current
    assert timeline(order_id) == []


def test_ship_goes_through_transition(skus):
    with Session.begin() as session:
        order_id = factories.order(session, status="paid", lines={"SKU-1": 1}).id
    with Session.begin() as session:
        fulfilment.ship(session, order_id=order_id, carrier="UPS", tracking_number="1Z")

    [(kind, data)] = timeline(order_id)
    assert kind == "shipped"
    assert (data["from"], data["to"], data["carrier"]) == ("paid", "shipped", "UPS")


@pytest.mark.parametrize("status", ["pending_payment", "canceled", "shipped", "refunded"])
def test_only_a_paid_order_can_be_shipped(skus, status):
    with Session.begin() as session:
        order_id = factories.order(session, status=status, lines={"SKU-1": 1}).id

    with Session.begin() as session, pytest.raises(errors.InvalidTransition):
        fulfilment.ship(session, order_id=order_id, carrier="UPS", tracking_number="1Z")

    with Session() as session:
        order = session.get(Order, order_id)
        assert (order.status, order.shipped_at) == (status, None)
