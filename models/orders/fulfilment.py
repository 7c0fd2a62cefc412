"""Shipping a paid order: one shipment per warehouse, each shipped on its own.

Checkout records the shipments routing chose (``record_shipments``). Each ships with its
own carrier and tracking number; the order is ``partially_shipped`` until the last one
has gone, then ``shipped``. An order placed before warehouses routed has no shipments
and ships as a whole, as it always did.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import bindparam, func, insert, literal, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from models import db
from models.base import utcnow
from models.errors import InvalidTransition, NotFound
from models.orders.rules import may_ship
from models.orders.status import OrderStatus, transition
from models.orders.tables import Order, Shipment, ShipmentStatus
from models.orders.timeline import OrderEvent, add_event
from models.warehouses.routing import Allocation


def _record_statement() -> Any:
    """The shipments (one per ``parts`` element) and the ``allocated`` line, as one."""
    part = (
        func.jsonb_array_elements(bindparam("parts", type_=JSONB))
        .table_valued("value")
        .render_derived(name="part")
    )
    shipments = insert(_SHIPMENTS).from_select(
        ["order_id", "warehouse", "items", "status"],
        select(
            bindparam("order_id", type_=_SHIPMENTS.c.order_id.type),
            part.c.value.op("->>")(literal("warehouse")),
            part.c.value.op("->")(literal("items")),
            literal(ShipmentStatus.PENDING.value),
        ),
    )
    return (
        insert(_ORDER_EVENTS)
        .values(order_id=bindparam("order_id"), kind="allocated", data=bindparam("allocated"))
        .add_cte(shipments.cte("shipments"))
    )


_SHIPMENTS = Shipment.__table__
_ORDER_EVENTS = OrderEvent.__table__
_RECORD = _record_statement()


def record_shipments(session: Session, *, order_id: uuid.UUID, allocation: Allocation) -> None:
    """One pending shipment per warehouse of ``allocation``, and the choice on the timeline.

    One statement on the session's connection (checkout's hot path); nothing is loaded.
    """
    db.flush_if_pending(session, Order)
    session.connection().execute(
        _RECORD,
        {
            "order_id": order_id,
            "parts": [
                {
                    "warehouse": part.warehouse,
                    "items": [{"sku": sku, "quantity": n} for sku, n in sorted(part.lines.items())],
                }
                for part in allocation.parts
            ],
            "allocated": allocation.as_event(),
        },
    )


def _lock_shippable(session: Session, order_id: uuid.UUID) -> Order:
    order = session.get(Order, order_id, with_for_update=True, populate_existing=True)
    if order is None:
        raise NotFound("No such order.")
    if not may_ship(order.status):
        raise InvalidTransition(
            f"Only a paid order can be shipped; this one is {order.status}.",
            current_status=order.status,
        )
    return order


def _shipments_of(session: Session, order: Order) -> list[Shipment]:
    return list(
        session.scalars(
            select(Shipment)
            .where(Shipment.order_id == order.id)
            .order_by(Shipment.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )


def _ship_shipments(
    session: Session, order: Order, chosen: list[Shipment], every: list[Shipment], **how: str
) -> None:
    now = utcnow()
    for shipment in chosen:
        shipment.status, shipment.shipped_at = ShipmentStatus.SHIPPED, now
        shipment.carrier, shipment.tracking_number = how["carrier"], how["tracking_number"]
    done = all(s.status == ShipmentStatus.SHIPPED for s in every)
    details = {
        "shipment_ids": [s.id for s in chosen],
        "warehouses": [s.warehouse for s in chosen],
        "shipped_at": now.isoformat(),
        **how,
    }
    if done:
        # The order-level fields tell when the order as a whole left (the last shipment).
        order.carrier, order.tracking_number, order.shipped_at = (
            how["carrier"],
            how["tracking_number"],
            now,
        )
    target = OrderStatus.SHIPPED if done else OrderStatus.PARTIALLY_SHIPPED
    if not transition(
        session, order, target, kind="shipped" if done else "partially_shipped", **details
    ):
        add_event(session, order, "shipment_shipped", **details)


def ship(
    session: Session, *, order_id: uuid.UUID, carrier: str, tracking_number: str
) -> tuple[Order, list[Shipment]]:
    """Ship every shipment still pending (or, with none recorded, the order as a whole).

    Returns the order and the shipments this call shipped; the caller sends one shipping
    notification per shipment (one for an order without shipments). Raises ``NotFound``,
    or ``InvalidTransition`` for an order that is not shippable (a shipped order is not
    shipped twice).
    """
    order = _lock_shippable(session, order_id)
    every = _shipments_of(session, order)
    chosen = [s for s in every if s.status == ShipmentStatus.PENDING]
    if every:
        _ship_shipments(
            session, order, chosen, every, carrier=carrier, tracking_number=tracking_number
        )
    else:
        order.carrier, order.tracking_number, order.shipped_at = carrier, tracking_number, utcnow()
        transition(
            session,
            order,
            OrderStatus.SHIPPED,
            kind="shipped",
            carrier=carrier,
            tracking_number=tracking_number,
            shipped_at=order.shipped_at.isoformat(),
        )
    session.flush()
    return order, chosen


def ship_shipment(
    session: Session,
    *,
    order_id: uuid.UUID,
    shipment_id: int,
    carrier: str,
    tracking_number: str,
) -> tuple[Order, Shipment]:
    """Ship one shipment of a paid order; raises ``NotFound`` or ``InvalidTransition``."""
    order = _lock_shippable(session, order_id)
    every = _shipments_of(session, order)
    shipment = next((s for s in every if s.id == shipment_id), None)
    if shipment is None:
        raise NotFound("No such shipment of this order.")
    if shipment.status != ShipmentStatus.PENDING:
        raise InvalidTransition(
            "This shipment has already shipped.", current_status=shipment.status
        )
    _ship_shipments(
        session, order, [shipment], every, carrier=carrier, tracking_number=tracking_number
    )
    session.flush()
    return order, shipment


def shipment_json(shipment: Shipment) -> dict[str, Any]:
    """A shipment as the API shows it."""
    return {
        "shipment_id": shipment.id,
        "warehouse": shipment.warehouse,
        "items": shipment.items,
        "status": shipment.status,
        "carrier": shipment.carrier,
        "tracking_number": shipment.tracking_number,
        "shipped_at": shipment.shipped_at.isoformat() if shipment.shipped_at else None,
    }


def shipment(order: Order) -> dict[str, str | None] | None:
    """The order's (last) shipment as the API shows it; None before it has all shipped."""
    if order.shipped_at is None:
        return None
    return {
        "carrier": order.carrier,
        "tracking_number": order.tracking_number,
        "shipped_at": order.shipped_at.isoformat(),
    }
