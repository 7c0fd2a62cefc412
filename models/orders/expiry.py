"""Orders whose stock hold ran out before they were paid."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from models.orders.payment_effects import cancel_order
from models.orders.status import OrderStatus
from models.orders.tables import Order
from models.stock.tables import Reservation, ReservationStatus

EXPIRED_REASON = "reservation_expired"


def expired_pending_orders(session: Session, *, now: dt.datetime, limit: int = 100) -> list[Order]:
    """Lock up to ``limit`` orders awaiting payment whose reservations have all expired."""
    live = and_(
        Reservation.order_id == Order.id,
        or_(Reservation.status == ReservationStatus.CONFIRMED, Reservation.expires_at > now),
    )
    return list(
        session.scalars(
            select(Order)
            .where(
                Order.status == OrderStatus.PENDING_PAYMENT,
                exists().where(Reservation.order_id == Order.id),
                ~exists().where(live),
            )
            .order_by(Order.created_at)
            .limit(limit)
            .with_for_update(of=Order, skip_locked=True)
        )
    )


def cancel_expired_order(session: Session, *, order: Order) -> bool:
    """Cancel a locked order whose reservations expired; returns whether it was canceled.

    The payment webhook's cancel: status, timeline, and the checkout given back (stock,
    discount code, cart). A captured order is never canceled.
    """
    canceled = cancel_order(session, order_id=order.id, reason=EXPIRED_REASON)
    session.flush()
    return canceled
