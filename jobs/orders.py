"""Order actors on the maintenance queue: expired holds and reservation-confirmation retries."""

from __future__ import annotations

import logging

import dramatiq
from periodiq import cron

from jobs.metrics import count_confirmation
from jobs.payments import cancel_payment_intent
from models.base import utcnow
from models.db import Session
from models.orders import expiry, reconciliation
from models.orders.tables import Order
from models.stock import reservations
from worker import outbox
from worker.alerts import send_alert

logger = logging.getLogger(__name__)

RETRY_BATCH = 100


@dramatiq.actor(
    actor_name="retry_reservation_confirmations",
    queue_name="maintenance",
    periodic=cron("*/15 * * * *"),
    max_retries=0,
    time_limit=120_000,
)
def retry_reservation_confirmations() -> int:
    """Retry confirming the reservations of paid orders whose confirmation failed.

    Each order backs off 5 min, 15 min, 1 h, 6 h, 24 h; after 5 failed attempts it is
    marked for manual reconciliation and an alert goes out.
    """
    now = utcnow()
    with Session() as session:
        due = reconciliation.orders_due_for_confirmation_retry(session, now=now, limit=RETRY_BATCH)
    attempted = 0
    for order_id in due:
        # One short transaction per order: confirming locks stock rows.
        with Session.begin() as session:
            outcome = reconciliation.retry_confirmation(session, order_id=order_id, now=now)
            order = session.get(Order, order_id)
            if outcome is not None:
                count_confirmation(session, "confirmed" if outcome == "confirmed" else "failed")
        if outcome is None:
            continue
        attempted += 1
        logger.info("Reservation confirmation retry for order %s: %s", order_id, outcome)
        if outcome == "manual":
            send_alert(
                "Order needs manual stock reconciliation",
                order_id=str(order_id),
                order_number=order.order_number,
                errors=order.confirmation_errors,
            )
    return attempted


@dramatiq.actor(
    actor_name="release_expired_reservations",
    queue_name="maintenance",
    periodic=cron("* * * * *"),
    max_retries=0,
    time_limit=60_000,
)
def release_expired_reservations() -> int:
    """Release expired reservations and cancel the unpaid orders they belonged to.

    A canceled order's PaymentIntent is canceled by a job and its cart is active again.
    """
    now = utcnow()
    with Session.begin() as session:
        released = reservations.release_expired(session, now=now)
        orders = expiry.expired_pending_orders(session, now=now)
        canceled = [o for o in orders if expiry.cancel_expired_order(session, order=o)]
        for order in canceled:
            if order.payment_intent_id:
                outbox.enqueue(session, cancel_payment_intent, str(order.id))
            logger.info("Order %s canceled: its reservation expired", order.id)
    return released + len(canceled)
