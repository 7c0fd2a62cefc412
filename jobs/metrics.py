"""Counters of what payments did to orders, counted once the transaction commits."""

from __future__ import annotations

from prometheus_client import Counter, Histogram
from sqlalchemy.orm import Session

from models.orders.payment_effects import Settlement
from services.outbox import after_commit

RESERVATION_CONFIRMATIONS = Counter(
    "checkout_reservation_confirmations_total",
    "Attempts to confirm an order's reservations, by outcome (confirmed / failed).",
    ["status"],
)
ORDERS_WITH_RESERVATION_ERRORS = Counter(
    "checkout_orders_with_reservation_errors_total",
    "Orders that got reservation-confirmation errors recorded for the retry job.",
)
CART_CLEANUP_FAILED = Counter(
    "checkout_cart_cleanup_failed_total",
    "Carts of paid orders that could not be completed at payment time (left for the job).",
)
CART_CLEANUP_RETRIES = Histogram(
    "checkout_cart_cleanup_retries",
    "Quick retries a paid order's cart needed before it was completed.",
    buckets=(0, 1, 2, 3),
)


def count_confirmation(session: Session, outcome: str) -> None:
    """One attempt to confirm reservations: ``confirmed`` or ``failed``."""
    after_commit(session, RESERVATION_CONFIRMATIONS.labels(status=outcome).inc)


def count_settlement(session: Session, settlement: Settlement) -> None:
    """What one payment event did, counted if its transaction commits."""
    if settlement.confirmation is not None:
        count_confirmation(session, settlement.confirmation)
    if settlement.errors_recorded_now:
        after_commit(session, ORDERS_WITH_RESERVATION_ERRORS.inc)
    if settlement.cart_deferred:
        after_commit(session, CART_CLEANUP_FAILED.inc)
    elif settlement.cart_retries is not None and settlement.captured_now:
        retries = settlement.cart_retries
        after_commit(session, lambda: CART_CLEANUP_RETRIES.observe(retries))
