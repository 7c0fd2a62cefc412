"""Orders whose reservations could not be confirmed: the list, retry now, resolve by hand.

Events refused for a mismatch with their order (``models.orders.payment_checks``) are
listed beside the orders, newest first, whatever the query: there should be none.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from sqlalchemy import tuple_
from sqlalchemy.orm import Session as OrmSession

from jobs.metrics import count_confirmation
from models import inbox
from models.base import utcnow
from models.db import Session
from models.errors import NotFound, NothingToResolve, NotRetryable
from models.orders import confirmation_report as report
from models.orders import stock_confirmation as confirmations
from models.orders.tables import Order

State = Literal["all", "manual", "retrying"]
NOT_APPLIED_SHOWN = 100


def listing(
    *, state: State, limit: int, before: tuple[dt.datetime, uuid.UUID] | None = None
) -> dict[str, Any]:
    """Orders with confirmation errors newest first, after the keyset ``before``.

    ``state=manual`` keeps those out of retries (manual reconciliation needed);
    ``state=retrying`` those the retry job still works on. ``orders`` holds one more
    than ``limit`` when there is a next page.
    """
    statement = confirmations.with_confirmation_errors()
    if state == "manual":
        statement = statement.where(Order.needs_manual_reconciliation)
    elif state == "retrying":
        statement = statement.where(~Order.needs_manual_reconciliation)
    if before is not None:
        statement = statement.where(tuple_(Order.created_at, Order.id) < tuple_(*before))
    statement = statement.order_by(Order.created_at.desc(), Order.id.desc()).limit(limit + 1)
    with Session() as session:
        return {
            "orders": list(session.scalars(statement)),
            "summary": _error_summary(session),
            "events_not_applied": inbox.not_applied(session, limit=NOT_APPLIED_SHOWN),
        }


def retry(order_id: uuid.UUID) -> tuple[str, Order]:
    """Try the order's reservation confirmation now, as the retry job would."""
    with Session.begin() as session:
        order = session.get(Order, order_id)
        if order is None:
            raise NotFound("No such order.")
        outcome = confirmations.retry_confirmation(session, order_id=order_id, now=utcnow())
        if outcome is None:
            raise NotRetryable(
                "This order has no confirmation errors to retry, is being retried right now, "
                "or is out of attempts (resolve it with a note once settled)."
            )
        count_confirmation(session, "confirmed" if outcome == "confirmed" else "failed")
    return outcome, order


def resolve(order_id: uuid.UUID, note: str) -> list[dict[str, Any]]:
    """Mark the order's confirmation errors resolved by hand with ``note``; returns them."""
    with Session.begin() as session:
        errors = confirmations.mark_resolved(session, order_id=order_id, note=note)
        if errors is None:
            raise NothingToResolve("This order has no confirmation errors.")
    return errors


def _error_summary(session: OrmSession) -> dict[str, Any]:
    """Affected orders, the 7-day trend, top failing products and top error reasons."""
    return {
        "affected_orders": report.affected_orders(session),
        "trend": report.error_trend(session, now=utcnow()),
        "top_products": report.top_failing_products(session),
        "top_reasons": report.top_error_reasons(session),
    }
