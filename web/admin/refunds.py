"""Admin: refund an order through Stripe, list its refunds, resend its confirmation."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StrictInt, StringConstraints

from jobs.email import send_order_email
from jobs.email_kinds import resend_kind
from jobs.payments import refund_order as refund_job
from models.db import Session
from models.errors import InvalidTransition
from models.orders import refunds
from models.orders.tables import Order
from services import outbox
from web.admin import bp
from web.admin.auth import current_actor
from web.admin.orders import order_key, refund_json
from web.errors import APIError
from web.validation import Schema, parse_body

__all__ = ["bp"]


class RefundBody(Schema):
    amount_cents: StrictInt | None = Field(None, ge=1, le=100_000_000)
    reason: Literal["requested_by_customer", "duplicate", "fraudulent"]
    note: Annotated[str, StringConstraints(max_length=500)] | None = None


def request_refund(order_id: str, body: RefundBody) -> dict[str, Any]:
    """The pending refund, its Stripe job in the outbox; shared by the API and the form."""
    with Session.begin() as session:
        refund = refunds.request_refund(
            session,
            order_id=order_key(order_id),
            amount_cents=body.amount_cents,
            reason=body.reason,
            note=body.note,
            created_by=current_actor().label,
        )
        outbox.enqueue(session, refund_job, refund.id)
        return refund_json(refund)


def resend_confirmation(order_id: str) -> None:
    with Session.begin() as session:
        order = session.get(Order, order_key(order_id))
        if order is None:
            raise APIError(404, "not_found", "No such order.")
        if order.paid_at is None:
            raise InvalidTransition(
                f"Order is {order.status}: it has no confirmation to resend.",
                current_status=order.status,
            )
        kind = resend_kind("order_confirmation")
        outbox.enqueue(session, send_order_email, str(order.id), kind)


@bp.post("/api/orders/<order_id>/refund")
def refund_order(order_id: str):
    refund = request_refund(order_id, parse_body(RefundBody))
    keys = ("refund_id", "status", "amount_cents", "currency")
    return {key: refund[key] for key in keys}, 202


@bp.get("/api/orders/<order_id>/refunds")
def list_refunds(order_id: str):
    with Session() as session:
        if session.get(Order, order_key(order_id)) is None:
            raise APIError(404, "not_found", "No such order.")
        return {"items": [refund_json(r) for r in refunds.refunds_of(session, order_key(order_id))]}


@bp.post("/api/orders/<order_id>/emails/confirmation")
def resend_confirmation_email(order_id: str):
    resend_confirmation(order_id)
    return {"queued": "order_confirmation"}, 202
