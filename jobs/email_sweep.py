"""Order confirmations whose job was lost are sent again.

The outbox guarantees a job reaches Redis; it cannot bring back one that Redis lost
afterwards (a restart with its data gone, a dead letter purged). A paid order's
confirmation is owed whatever happened to its job, so every five minutes the orders
paid a while ago with no confirmation sent and none under way get the job again. Sending
it twice is harmless: the email row is locked and a sent row is never sent again.
"""

from __future__ import annotations

import datetime as dt
import logging

import dramatiq
from periodiq import cron

from jobs.email import send_order_email
from models import emails
from models.base import utcnow
from models.db import Session
from services import outbox

logger = logging.getLogger(__name__)

# A confirmation normally goes out within seconds of the payment.
SETTLED = dt.timedelta(minutes=10)
# Longer than send_order_email's longest backoff (15 min): a live retry chain has tried.
STALLED = dt.timedelta(minutes=20)
BATCH = 200


@dramatiq.actor(
    actor_name="resend_lost_confirmations",
    queue_name="maintenance",
    periodic=cron("*/5 * * * *"),
    max_retries=0,  # the next run, five minutes later, is the retry
    time_limit=60_000,
)
def resend_lost_confirmations() -> int:
    """Send the confirmation job again for paid orders whose job was lost."""
    with Session.begin() as session:
        lost = emails.lost_confirmations(
            session, now=utcnow(), settled=SETTLED, stalled=STALLED, limit=BATCH
        )
        for order_id in lost:
            outbox.enqueue(session, send_order_email, str(order_id), "order_confirmation")
    if lost:
        logger.warning("Re-sent the confirmation job of %d paid order(s)", len(lost))
    return len(lost)
