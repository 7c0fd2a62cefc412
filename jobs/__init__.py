"""Dramatiq actors, one module per domain.

Importing this package builds the fleet's broker first, then registers every actor on it.
"""

import worker.broker  # noqa: F401  (actors bind to the broker current at declaration)
from jobs import (
    backfill,
    carts,
    email,
    email_sweep,
    media,
    orders,
    outbox,
    payments,
    recovery,
    stripe_events,
)

__all__ = [
    "backfill",
    "carts",
    "email",
    "email_sweep",
    "media",
    "orders",
    "outbox",
    "payments",
    "recovery",
    "stripe_events",
]
