"""Refunding an order: the pending refund row, then its Stripe call in a job.

The refund is recorded and its ``refund_order`` job written to the outbox in one
transaction; Stripe is called by the job, never inside a transaction.
"""

from __future__ import annotations

import uuid

from jobs.payments import refund_order
from models.db import Session
from models.orders import refunds
from services import outbox


def request_refund(
    order_id: uuid.UUID,
    *,
    amount_cents: int | None,
    reason: str,
    note: str | None,
    created_by: str,
) -> refunds.Refund:
    """A ``pending`` refund of ``amount_cents`` (default: the whole refundable remainder).

    Raises ``NotFound``, ``InvalidTransition`` or ``AmountOutOfRange`` with nothing
    recorded.
    """
    with Session.begin() as session:
        refund = refunds.request_refund(
            session,
            order_id=order_id,
            amount_cents=amount_cents,
            reason=reason,
            note=note,
            created_by=created_by,
        )
        outbox.enqueue(session, refund_order, refund.id)
    return refund
