"""Admin: orders whose reservations could not be confirmed (stock reconciliation)."""

from __future__ import annotations

from typing import Literal

from flask import request
from pydantic import Field, ValidationError
from sqlalchemy import tuple_

from models import maintenance
from models.db import Session
from models.orders import Order
from web import cursors
from web.admin import bp
from web.validation import Schema, validation_error


class ReconciliationQuery(Schema):
    state: Literal["all", "manual", "retrying"] = "all"
    limit: int = Field(50, ge=1, le=500)
    cursor: str | None = None


def _item(order: Order) -> dict[str, object]:
    retry = order.meta.get(maintenance.RETRY_KEY) or {}
    return {
        "order_id": str(order.id),
        "order_number": order.order_number,
        "status": order.status,
        "email": order.email,
        "total_cents": order.total_cents,
        "currency": order.currency,
        "created_at": order.created_at.isoformat(),
        "paid_at": order.paid_at.isoformat() if order.paid_at else None,
        "errors": order.meta.get(maintenance.ERRORS_KEY),
        "attempts": retry.get("attempts", 0),
        "last_attempt_at": retry.get("last_attempt_at"),
        "next_attempt_at": retry.get("next_attempt_at"),
        "needs_manual_reconciliation": bool(order.meta.get(maintenance.MANUAL_KEY)),
    }


@bp.get("/api/reconciliation")
def reconciliation():
    """Orders with reservation-confirmation errors, newest first.

    ``state=manual`` keeps those out of retries (manual reconciliation needed);
    ``state=retrying`` those the retry job still works on.
    """
    try:
        query = ReconciliationQuery.model_validate(request.args.to_dict())
    except ValidationError as error:
        raise validation_error(error) from None
    statement = maintenance.with_confirmation_errors()
    if query.state == "manual":
        statement = statement.where(Order.meta.has_key(maintenance.MANUAL_KEY))
    elif query.state == "retrying":
        statement = statement.where(~Order.meta.has_key(maintenance.MANUAL_KEY))
    if query.cursor:
        created_at, order_id = cursors.decode_order(query.cursor)
        statement = statement.where(
            tuple_(Order.created_at, Order.id) < tuple_(created_at, order_id)
        )
    statement = statement.order_by(Order.created_at.desc(), Order.id.desc()).limit(query.limit + 1)
    with Session() as session:
        orders = list(session.scalars(statement))
    page = orders[: query.limit]
    return {
        "items": [_item(order) for order in page],
        "next_cursor": cursors.encode_order(page[-1]) if len(orders) > query.limit else None,
    }


__all__ = ["bp", "reconciliation"]
