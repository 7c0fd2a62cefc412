"""Jobs that Redis lost with its data are pushed again from the outbox.

The outbox marks a row sent once Redis accepted its message. Should Redis then lose its
data (restarted without persistence, failed over to an empty replica), the messages
waiting there, queued or delayed for a retry, are gone although their rows say sent. A
marker key tells: it is set once Redis has everything it should, so when the relay finds
it missing, Redis lost its data since, and every row pushed within ``RESEND_WINDOW`` is
pushed again. Every actor is idempotent, so the jobs that had run already run again
harmlessly; the inbox and email sweeps cover what is older.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import Interval, bindparam, func, select

from models import db
from models.infra.outbox import OutboxMessage
from services import outbox
from services.redis_broker import redis_broker

logger = logging.getLogger(__name__)

MARKER_KEY = "cartfleet:outbox:redis-marker"
RESEND_WINDOW = dt.timedelta(hours=1)
BATCH_SIZE = 500

_TABLE = OutboxMessage.__table__
_RECENTLY_SENT = (
    select(*outbox.MESSAGE_COLUMNS)
    .where(
        _TABLE.c.sent_at >= func.now() - bindparam("window", type_=Interval()),
        _TABLE.c.id > bindparam("after"),
    )
    .order_by(_TABLE.c.id)
    .limit(bindparam("limit"))
)


def mark_complete() -> None:
    """Record that Redis holds every job the outbox pushed (a fresh deployment's start)."""
    redis_broker().client.set(MARKER_KEY, "1")


def resend_if_lost(*, window: dt.timedelta = RESEND_WINDOW, batch_size: int = BATCH_SIZE) -> int:
    """Push again the rows sent within ``window`` when Redis lost its data; returns how many.

    Stops at the first push that fails (Redis down again) without setting the marker, so
    the next run starts over.
    """
    client = redis_broker().client
    if client.exists(MARKER_KEY):
        return 0
    resent, after = 0, 0
    while True:
        with db.engine().connect() as connection:
            rows = connection.execute(
                _RECENTLY_SENT, {"window": window, "after": after, "limit": batch_size}
            ).all()
        if not rows:
            break
        pushed = outbox.push([outbox.pending_row(row) for row in rows])
        resent += len(pushed)
        if len(pushed) < len(rows):
            return resent
        after = rows[-1].id
    mark_complete()
    if resent:
        logger.warning("Redis lost its data: pushed %d recent job(s) again", resent)
    return resent
