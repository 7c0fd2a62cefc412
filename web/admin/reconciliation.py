"""Admin API: orders whose reservations could not be confirmed, and Stripe events refused.

The use cases are ``flows.reconciliation``'s; this module parses and renders them.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import Field

from flows import reconciliation
from models.errors import NotFound
from models.inbox import WebhookEvent
from models.orders.tables import Order
from web import cursors
from web.admin import bp
from web.serializers import iso
from web.validation import Schema, parse_body, parse_query


class ReconciliationQuery(Schema):
    state: reconciliation.State = "all"
    limit: int = Field(50, ge=1, le=500)
    cursor: str | None = None


class ResolveBody(Schema):
    note: str = Field(min_length=1, max_length=2000)


def order_json(order: Order) -> dict[str, object]:
    return {
        "order_id": str(order.id),
        "order_number": order.order_number,
        "status": order.status,
        "email": order.email,
        "total_cents": order.total_cents,
        "currency": order.currency,
        "created_at": order.created_at.isoformat(),
        "paid_at": order.paid_at.isoformat() if order.paid_at else None,
        "errors": order.confirmation_errors,
        "attempts": order.confirmation_attempts,
        "last_attempt_at": iso(order.last_confirmation_at),
        "next_attempt_at": iso(order.next_confirmation_at),
        "needs_manual_reconciliation": order.needs_manual_reconciliation,
    }


def _not_applied(event: WebhookEvent) -> dict[str, object]:
    return {
        "event_id": event.id,
        "type": event.type,
        "source": event.source,
        "reason": event.reason,
        "detail": event.last_error,
        "order_id": str(event.order_id) if event.order_id else None,
        "received_at": event.received_at.isoformat(),
    }


def listing_json(query: ReconciliationQuery) -> dict[str, Any]:
    """The list as the API answers it and the page shows it."""
    before = cursors.decode_order(query.cursor) if query.cursor else None
    found = reconciliation.listing(state=query.state, limit=query.limit, before=before)
    orders = found["orders"]
    page = orders[: query.limit]
    return {
        "items": [order_json(order) for order in page],
        "next_cursor": cursors.encode_order(page[-1]) if len(orders) > query.limit else None,
        "summary": found["summary"],
        "events_not_applied": [_not_applied(event) for event in found["events_not_applied"]],
    }


def order_key(order_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(order_id)
    except ValueError:
        raise NotFound("No such order.") from None


@bp.get("/api/reconciliation")
def reconciliation_orders():
    """Orders with reservation-confirmation errors, newest first (``?state=&cursor=``)."""
    return listing_json(parse_query(ReconciliationQuery))


@bp.post("/api/reconciliation/<order_id>/retry")
def retry_reconciliation(order_id: str):
    """Try the order's reservation confirmation now, as the retry job would."""
    outcome, order = reconciliation.retry(order_key(order_id))
    return {"outcome": outcome, "order": order_json(order)}


@bp.post("/api/reconciliation/<order_id>/resolve")
def resolve_reconciliation(order_id: str):
    """Mark the order's confirmation errors resolved by hand, with the operator's note."""
    key = order_key(order_id)
    body = parse_body(ResolveBody)
    errors = reconciliation.resolve(key, body.note)
    return {"order_id": str(key), "resolved_errors": errors, "note": body.note}


__all__ = ["ReconciliationQuery", "ResolveBody", "bp", "listing_json", "order_key"]
