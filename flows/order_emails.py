"""Order emails sent again by hand (the confirmation, on a customer's request)."""

from __future__ import annotations

import uuid

from jobs.email import send_order_email
from jobs.email_kinds import resend_kind
from models.db import Session
from models.errors import InvalidTransition, NotFound
from models.orders.rules import may_resend_confirmation
from models.orders.tables import Order
from services import outbox


def resend_confirmation(order_id: uuid.UUID) -> None:
    """Queue the order confirmation again, under a kind of its own so it is not taken for
    the one already sent.

    Raises ``NotFound``, or ``InvalidTransition`` for an order never paid.
    """
    with Session.begin() as session:
        order = session.get(Order, order_id)
        if order is None:
            raise NotFound("No such order.")
        if not may_resend_confirmation(order.paid_at):
            raise InvalidTransition(
                f"Order is {order.status}: it has no confirmation to resend.",
                current_status=order.status,
            )
        outbox.enqueue(session, send_order_email, str(order.id), resend_kind("order_confirmation"))
