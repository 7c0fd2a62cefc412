"""Admin: orders whose reservations could not be confirmed, and Stripe events refused.

Events refused for a mismatch with their order (``models.orders.payment_checks``) are
listed beside the orders, newest first, whatever the query: there should be none.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import Field
from sqlalchemy import tuple_

from jobs.metrics import count_confirmation
from models import inbox
from models.base import utcnow
from models.db import Session
from models.inbox import WebhookEvent
from models.orders import reconciliation as confirmations
from models.orders import reconciliation_report as report
from models.orders.tables import Order
from web import cursors
from web.admin import bp
from web.errors import APIError
from web.serializers import iso
from web.validation import Schema, parse_body, parse_query


class ReconciliationQuery(Schema):
    state: Literal["all", "manual", "retrying"] = "all"
    limit: int = Field(50, ge=1, le=500)
    cursor: str | None = None


def _item(order: Order) -> dict[str, object]:
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


NOT_APPLIED_SHOWN = 100


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


@bp.get("/api/reconciliation")
def reconciliation():
    """Orders with reservation-confirmation errors, newest first.

    ``state=manual`` keeps those out of retries (manual reconciliation needed);
    ``state=retrying`` those the retry job still works on.
    """
    query = parse_query(ReconciliationQuery)
    statement = confirmations.with_confirmation_errors()
    if query.state == "manual":
        statement = statement.where(Order.needs_manual_reconciliation)
    elif query.state == "retrying":
        statement = statement.where(~Order.needs_manual_reconciliation)
    if query.cursor:
        created_at, order_id = cursors.decode_order(query.cursor)
        statement = statement.where(
            tuple_(Order.created_at, Order.id) < tuple_(created_at, order_id)
        )
    statement = statement.order_by(Order.created_at.desc(), Order.id.desc()).limit(query.limit + 1)
    with Session() as session:
        orders = list(session.scalars(statement))
        summary = error_summary(session)
        refused = [_not_applied(e) for e in inbox.not_applied(session, limit=NOT_APPLIED_SHOWN)]
    page = orders[: query.limit]
    return {
        "items": [_item(order) for order in page],
        "next_cursor": cursors.encode_order(page[-1]) if len(orders) > query.limit else None,
        "summary": summary,
        "events_not_applied": refused,
    }


# --- Reservation-confirmation errors: figures, retry now, resolve by hand ---------------------


class ResolveBody(Schema):
    note: str = Field(min_length=1, max_length=2000)


def error_summary(session) -> dict[str, Any]:
    """Affected orders, the 7-day trend, top failing products and top error reasons."""
    return {
        "affected_orders": report.affected_orders(session),
        "trend": report.error_trend(session, now=utcnow()),
        "top_products": report.top_failing_products(session),
        "top_reasons": report.top_error_reasons(session),
    }


def order_key(order_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(order_id)
    except ValueError:
        raise APIError(404, "not_found", "No such order.") from None


@bp.post("/api/reconciliation/<order_id>/retry")
def retry_reconciliation(order_id: str):
    """Try the order's reservation confirmation now, as the retry job would."""
    key = order_key(order_id)
    with Session.begin() as session:
        order = session.get(Order, key)
        if order is None:
            raise APIError(404, "not_found", "No such order.")
        outcome = confirmations.retry_confirmation(session, order_id=key, now=utcnow())
        if outcome is None:
            raise APIError(
                409,
                "not_retryable",
                "This order has no confirmation errors to retry, is being retried right now, "
                "or is out of attempts (resolve it with a note once settled).",
            )
        count_confirmation(session, "confirmed" if outcome == "confirmed" else "failed")
        item = _item(order)
    return {"outcome": outcome, "order": item}


@bp.post("/api/reconciliation/<order_id>/resolve")
def resolve_reconciliation(order_id: str):
    """Mark the order's confirmation errors resolved by hand, with the operator's note."""
    key = order_key(order_id)
    body = parse_body(ResolveBody)
    errors = resolve(key, body.note)
    return {"order_id": str(key), "resolved_errors": errors, "note": body.note}


def resolve(key: uuid.UUID, note: str) -> list[dict[str, Any]]:
    """The order's confirmation errors, now marked resolved with ``note``; 409 if none."""
    with Session.begin() as session:
        errors = confirmations.mark_resolved(session, order_id=key, note=note)
        if errors is None:
            raise APIError(409, "nothing_to_resolve", "This order has no confirmation errors.")
    return errors


__all__ = [
    "bp",
    "order_key",
    "reconciliation",
    "resolve",
    "resolve_reconciliation",
    "retry_reconciliation",
]
