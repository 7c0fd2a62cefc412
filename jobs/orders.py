"""Order actors on the maintenance queue: expired holds, PaymentIntent reconciliation and
reservation-confirmation retries.

Stripe is asked about an order before its hold is released: a buyer whose payment went
through while the webhook was lost is paid, never canceled. When Stripe cannot be
asked, the hold is kept a minute longer and asked again.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

import dramatiq
from periodiq import cron

from jobs import stripe_handlers
from jobs.metrics import count_confirmation
from jobs.payments import cancel_payment_intent
from models.base import utcnow
from models.db import Session
from models.orders import expiry, stock_confirmation, stripe_sync
from models.orders.stripe_sync import Reconciliation
from models.orders.tables import Order
from models.stock import reservations
from services import outbox, stripe
from services.alerts import send_alert
from services.settings import get_settings

logger = logging.getLogger(__name__)

RETRY_BATCH = 100
RECONCILE_BATCH = 100
# A hold Stripe could not be asked about (or whose payment is still processing) is kept
# this much longer, until the next expiry run asks again.
UNVERIFIED_HOLD = dt.timedelta(minutes=1)


def reconcile_order(order_id: uuid.UUID, intent_id: str) -> Reconciliation | None:
    """Ask Stripe about the order's PaymentIntent and apply it; None if Stripe can't be asked."""
    try:
        intent = stripe.retrieve_payment_intent(intent_id)
    except stripe.StripeError:
        logger.warning("PaymentIntent %s of order %s could not be retrieved", intent_id, order_id)
        return None
    with Session.begin() as session:
        result = stripe_sync.apply_intent(session, order_id=order_id, intent=intent)
        if result.settlement is not None:
            stripe_handlers.follow_up(session, result.settlement)
        if result.mismatch is not None:
            stripe_handlers.refuse(
                session, result.mismatch, event_id=None, event_type="payment_intent (retrieved)"
            )
    if result.settlement is not None:
        settlement = result.settlement
        logger.info(
            "Order %s reconciled with Stripe (%s): %s -> %s",
            order_id,
            result.stripe_status,
            settlement.status_before,
            settlement.status_after,
        )
    return result


def reconcile_due(
    *, now: dt.datetime | None = None
) -> list[tuple[uuid.UUID, Reconciliation | None]]:
    """Reconcile every order due (unpaid too long, or its hold about to end)."""
    settings, now = get_settings(), now or utcnow()
    with Session() as session:
        due = stripe_sync.orders_to_reconcile(
            session,
            now=now,
            pending_after=dt.timedelta(minutes=settings.reconcile_pending_after_minutes),
            expiring_within=dt.timedelta(minutes=settings.reconcile_expiring_within_minutes),
            limit=RECONCILE_BATCH,
        )
    return [(order_id, reconcile_order(order_id, intent_id)) for order_id, intent_id in due]


@dramatiq.actor(
    actor_name="reconcile_payment_intents",
    queue_name="maintenance",
    periodic=cron("*/2 * * * *"),
    max_retries=0,  # the next run is the retry
    time_limit=120_000,
)
def reconcile_payment_intents() -> int:
    """Apply what Stripe says about orders still awaiting payment; returns how many changed."""
    return sum(1 for _, result in reconcile_due() if result and result.settlement)


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
        due = stock_confirmation.orders_due_for_confirmation_retry(
            session, now=now, limit=RETRY_BATCH
        )
    attempted = 0
    for order_id in due:
        # One short transaction per order: confirming locks stock rows.
        with Session.begin() as session:
            outcome = stock_confirmation.retry_confirmation(session, order_id=order_id, now=now)
            order = session.get_one(Order, order_id)
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

    Stripe is asked first about each such order that has a PaymentIntent (a paid one is
    paid, not canceled); one Stripe cannot answer for, or whose payment is processing,
    keeps its hold. A canceled order's PaymentIntent is canceled by a job and its cart
    is active again.
    """
    now = utcnow()
    with Session() as session:
        expiring = stripe_sync.expiring_orders(session, now=now, limit=RECONCILE_BATCH)
    verified = {
        order_id
        for order_id, intent_id in expiring
        if (result := reconcile_order(order_id, intent_id)) is not None
        and result.stripe_status != "processing"
    }
    with Session.begin() as session:
        # Those Stripe did not answer for, and any beyond this run's batch, wait a minute.
        unverified = [
            order_id
            for order_id, _ in stripe_sync.expiring_orders(session, now=now, limit=None)
            if order_id not in verified
        ]
        if unverified:
            reservations.extend(session, order_ids=unverified, until=now + UNVERIFIED_HOLD)
        released = reservations.release_expired(session, now=now)
        orders = expiry.expired_pending_orders(session, now=now)
        canceled = [o for o in orders if expiry.cancel_expired_order(session, order=o)]
        for order in canceled:
            if order.payment_intent_id:
                outbox.enqueue(session, cancel_payment_intent, str(order.id))
            logger.info("Order %s canceled: its reservation expired", order.id)
    return released + len(canceled)
