"""Admin: list and inspect orders, mark them shipped (API.md "Admin")."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import StringConstraints
from sqlalchemy import select
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import selectinload

from flows import shipping
from models import audit
from models.db import Session
from models.emails import Email
from models.orders import fulfilment, refunds
from models.orders.tables import Order
from web.admin import bp, order_query
from web.admin.order_query import OrderFilters
from web.errors import APIError
from web.serializers import iso, order_item_json
from web.validation import Schema, parse_body, parse_query

__all__ = ["bp"]


class ShipBody(Schema):
    carrier: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    tracking_number: Annotated[str, StringConstraints(min_length=1, max_length=128)]


def order_key(order_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(order_id)
    except ValueError:
        raise APIError(404, "not_found", "No such order.") from None


def order_summary(order: Order) -> dict[str, Any]:
    return {
        "order_id": str(order.id),
        "order_number": order.order_number,
        "status": order.status,
        "email": order.email,
        "total_cents": order.total_cents,
        "refunded_cents": order.refunded_cents,
        "currency": order.currency,
        "created_at": iso(order.created_at),
        "paid_at": iso(order.paid_at),
    }


def refund_json(refund: refunds.Refund) -> dict[str, Any]:
    return {
        "refund_id": refund.id,
        "stripe_refund_id": refund.stripe_refund_id,
        "amount_cents": refund.amount_cents,
        "currency": refund.currency,
        "reason": refund.reason,
        "note": refund.note,
        "status": refund.status,
        "failure_reason": refund.failure_reason,
        "created_by": refund.created_by,
        "created_at": iso(refund.created_at),
    }


def timeline(session: OrmSession, order: Order) -> list[dict[str, Any]]:
    """The order's events and the admin actions on it, oldest first, each with its actor."""
    lines = [
        {
            "at": iso(event.at),
            "kind": event.kind,
            "actor": event.data.get("actor"),
            "data": event.data,
        }
        for event in order.events
    ]
    lines += [
        {
            "at": iso(entry.at),
            "kind": f"admin.{entry.action}",
            "actor": entry.actor,
            "data": {"outcome": entry.outcome, "request_id": entry.request_id},
        }
        for entry in audit.for_target(session, f"order:{order.id}")
    ]
    return sorted(lines, key=lambda line: line["at"])


def order_detail(session: OrmSession, order: Order) -> dict[str, Any]:
    sent = session.scalars(select(Email).where(Email.order_id == order.id).order_by(Email.id))
    return {
        **order_summary(order),
        "cart_id": order.cart_id,
        "subtotal_cents": order.subtotal_cents,
        "discount_cents": order.discount_cents,
        "payment_intent_id": order.payment_intent_id,
        "shipping_address": order.shipping_address,
        "shipment": fulfilment.shipment(order),
        "shipments": [fulfilment.shipment_json(shipment) for shipment in order.shipments],
        "items": [order_item_json(item) for item in order.items],
        "reservations": [
            {
                "sku": reservation.sku,
                "warehouse": reservation.warehouse,
                "quantity": reservation.quantity,
                "status": reservation.status,
                "expires_at": iso(reservation.expires_at),
            }
            for reservation in order.reservations
        ],
        "reservation_errors": order.confirmation_errors or [],
        "needs_manual_reconciliation": order.needs_manual_reconciliation,
        "emails": [
            {
                "kind": email.kind,
                "status": email.status,
                "recipient": email.recipient,
                "message_id": email.message_id,
                "attempts": email.attempts,
                "last_error": email.last_error,
                "sent_at": iso(email.sent_at),
            }
            for email in sent
        ],
        "events": [
            {"kind": event.kind, "data": event.data, "at": iso(event.at)} for event in order.events
        ],
        "refunds": [refund_json(refund) for refund in refunds.refunds_of(session, order.id)],
        "refundable_cents": refunds.refundable_cents(session, order),
        "timeline": timeline(session, order),
    }


@bp.get("/api/orders")
def list_orders():
    """A page of orders matching the filters (``web.admin.order_query``), and their count."""
    filters = parse_query(OrderFilters)
    with Session() as session:
        orders = list(session.scalars(order_query.page_query(filters)))
        count = session.scalar(order_query.count_query(filters))
    page, more = orders[: filters.limit], len(orders) > filters.limit
    return {
        "items": [order_summary(order) for order in page],
        "next_cursor": order_query.next_cursor(filters, page[-1]) if more else None,
        "count": count,
    }


def load_order_detail(order_id: str) -> dict[str, Any]:
    """The order as the API and the detail page show it; 404 for an unknown id."""
    with Session.begin() as session:
        order = session.get(
            Order,
            order_key(order_id),
            options=[
                selectinload(Order.events),
                selectinload(Order.reservations),
                selectinload(Order.shipments),
            ],
        )
        if order is None:
            raise APIError(404, "not_found", "No such order.")
        return order_detail(session, order)


@bp.get("/api/orders/<order_id>")
def get_order(order_id: str):
    return load_order_detail(order_id)


@bp.post("/api/orders/<order_id>/ship")
def ship_order(order_id: str):
    key = order_key(order_id)
    body = parse_body(ShipBody)
    shipping.ship(key, carrier=body.carrier, tracking_number=body.tracking_number)
    return load_order_detail(order_id)


@bp.post("/api/orders/<order_id>/shipments/<int:shipment_id>/ship")
def ship_shipment(order_id: str, shipment_id: int):
    key = order_key(order_id)
    body = parse_body(ShipBody)
    shipping.ship_shipment(
        key, shipment_id, carrier=body.carrier, tracking_number=body.tracking_number
    )
    return load_order_detail(order_id)
