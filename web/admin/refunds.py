"""Admin: refund an order through Stripe, list its refunds, resend its confirmation."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictInt, StringConstraints

from flows import order_emails, refunds
from models.db import Session
from models.orders import refunds as refund_rows
from models.orders.tables import Order
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


def request_refund(order_id: str, body: RefundBody) -> refund_rows.Refund:
    """``flows.refunds.request_refund`` for the staff member acting; the API's and the form's."""
    return refunds.request_refund(
        order_key(order_id),
        amount_cents=body.amount_cents,
        reason=body.reason,
        note=body.note,
        created_by=current_actor().label,
    )


@bp.post("/api/orders/<order_id>/refund")
def refund_order(order_id: str):
    refund = refund_json(request_refund(order_id, parse_body(RefundBody)))
    keys = ("refund_id", "status", "amount_cents", "currency")
    return {key: refund[key] for key in keys}, 202


@bp.get("/api/orders/<order_id>/refunds")
def list_refunds(order_id: str):
    with Session() as session:
        if session.get(Order, order_key(order_id)) is None:
            raise APIError(404, "not_found", "No such order.")
        rows = refund_rows.refunds_of(session, order_key(order_id))
        return {"items": [refund_json(r) for r in rows]}


@bp.post("/api/orders/<order_id>/emails/confirmation")
def resend_confirmation_email(order_id: str):
    order_emails.resend_confirmation(order_key(order_id))
    return {"queued": "order_confirmation"}, 202
