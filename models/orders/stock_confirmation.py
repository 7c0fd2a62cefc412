"""Stock that could not be confirmed when an order was paid, and its retries.

A paid order whose reservations could not all be turned into sold stock keeps the
errors in ``confirmation_errors`` and is retried on a backoff (``next_confirmation_at``)
until it succeeds or runs out of attempts and needs a person
(``needs_manual_reconciliation``). The reconciliation page lists these orders.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, literal_column, or_, select
from sqlalchemy.orm import Session

from models.base import utcnow
from models.errors import NotFound
from models.orders.status import GOODS_OWED
from models.orders.tables import Order
from models.orders.timeline import add_event
from models.stock import reservations

# Wait before attempt 1, 2, ... measured from the previous attempt (or the error).
RETRY_BACKOFF = (
    dt.timedelta(minutes=5),
    dt.timedelta(minutes=15),
    dt.timedelta(hours=1),
    dt.timedelta(hours=6),
    dt.timedelta(hours=24),
)
MAX_CONFIRMATION_ATTEMPTS = len(RETRY_BACKOFF)
RETRY_WINDOW = dt.timedelta(hours=24)


@dataclass(frozen=True)
class Confirmation:
    errors: list[dict[str, Any]]
    errors_recorded_now: bool  # the order had no errors before this attempt


def has_confirmation_errors() -> ColumnElement[bool]:
    """SQL: the order carries reservation-confirmation errors (a non-empty array).

    The type is tested rather than trusting NULL alone: a JSON ``null`` or a non-array
    value written by hand is not an error list, and ``jsonb_array_length`` would fail
    on it.
    """
    return and_(
        func.jsonb_typeof(Order.confirmation_errors) == "array",
        Order.confirmation_errors != literal_column("'[]'::jsonb"),
    )


def record_confirmation_errors(
    session: Session, *, order: Order, errors: list[dict[str, Any]]
) -> bool:
    """Keep the reservations that could not be confirmed on the order for the retry job.

    An empty list clears earlier errors (the retry job confirmed them). Returns whether
    the order got errors it did not have.
    """
    had_errors = bool(order.confirmation_errors)
    if errors:
        order.confirmation_errors = errors
        add_event(session, order, "reservation_confirmation_failed", errors=errors)
        if not had_errors and not order.needs_manual_reconciliation:
            order.next_confirmation_at = utcnow() + RETRY_BACKOFF[0]
        return not had_errors
    if had_errors:
        order.confirmation_errors = None
        order.next_confirmation_at = None
        add_event(session, order, "reservation_confirmation_errors_cleared")
    return False


def confirm_reservations(session: Session, *, order: Order) -> Confirmation:
    """Confirm the order's reservations (stock sold); failures are recorded, not raised."""
    errors = reservations.confirm(session, order_id=order.id)
    recorded_now = record_confirmation_errors(session, order=order, errors=errors)
    if not errors:
        add_event(session, order, "reservations_confirmed")
    return Confirmation(errors, recorded_now)


def with_confirmation_errors() -> Select[Order]:
    """Orders whose reservations could not all be confirmed (the reconciliation list)."""
    return select(Order).where(has_confirmation_errors())


def orders_due_for_confirmation_retry(
    session: Session, *, now: dt.datetime, limit: int = 100
) -> list[uuid.UUID]:
    """Orders with confirmation errors whose next attempt is due.

    New candidates come from the last 24 h; an order already being retried keeps its
    schedule to the end, even past 24 h.
    """
    return list(
        session.scalars(
            select(Order.id)
            .where(
                Order.next_confirmation_at <= now,
                has_confirmation_errors(),
                ~Order.needs_manual_reconciliation,
                Order.status.in_(GOODS_OWED),
                or_(Order.created_at >= now - RETRY_WINDOW, Order.confirmation_attempts > 0),
            )
            .order_by(Order.next_confirmation_at)
            .limit(limit)
        )
    )


def retry_confirmation(session: Session, *, order_id: uuid.UUID, now: dt.datetime) -> str | None:
    """Try once more to confirm the order's reservations.

    Returns ``"confirmed"`` (errors removed), ``"retrying"`` (next attempt scheduled),
    ``"manual"`` (out of attempts: marked for manual reconciliation) or None when the
    order is locked by someone else or no longer needs it.
    """
    order = session.scalar(
        select(Order).where(Order.id == order_id).with_for_update(skip_locked=True)
    )
    if order is None or not order.confirmation_errors or order.needs_manual_reconciliation:
        return None
    attempts = order.confirmation_attempts + 1
    # The payment webhook's own confirmation: records or clears the errors on the order
    # and its timeline the same way whoever confirms.
    errors = confirm_reservations(session, order=order).errors
    order.last_confirmation_at = now
    data: dict[str, Any]
    if not errors:
        order.confirmation_attempts, order.next_confirmation_at = 0, None
        outcome, data = "confirmed", {"attempt": attempts}
    elif attempts >= MAX_CONFIRMATION_ATTEMPTS:
        order.confirmation_attempts, order.next_confirmation_at = attempts, None
        order.needs_manual_reconciliation = True
        outcome, data = "manual", {"attempt": attempts}
        add_event(
            session, order, "manual_reconciliation_required", attempts=attempts, errors=errors
        )
    else:
        order.confirmation_attempts = attempts
        order.next_confirmation_at = now + RETRY_BACKOFF[attempts]
        outcome = "retrying"
        data = {"attempt": attempts, "next_attempt_at": order.next_confirmation_at.isoformat()}
    add_event(session, order, "reservation_confirmation_retry", **data)
    session.flush()
    return outcome


def mark_resolved(
    session: Session, *, order_id: uuid.UUID, note: str
) -> list[dict[str, Any]] | None:
    """Close an order's reconciliation by hand: stock settled with the warehouse, or refunded.

    Its confirmation errors are cleared and its retries stop, so it leaves the
    reconciliation view; the timeline keeps the errors and the note. Returns the errors
    resolved, or None when the order has none (confirmed or resolved already). Raises
    ``NotFound``. The order is locked, so the retry job cannot confirm it meanwhile.
    """
    order = session.get(Order, order_id, with_for_update=True, populate_existing=True)
    if order is None:
        raise NotFound("No such order.")
    errors = order.confirmation_errors
    if not errors:
        return None
    order.confirmation_errors = None
    order.next_confirmation_at = None
    order.needs_manual_reconciliation = False
    add_event(session, order, "reconciliation_resolved", note=note, errors=errors)
    session.flush()
    return errors
