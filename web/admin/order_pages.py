"""The admin's order pages: list, detail, ship (the order or one shipment), refund, resend.

Server-rendered Jinja under ``web/templates/admin/``, one base template; every form posts
Flask-WTF's CSRF token (checked for every session request by ``web.admin.auth``). A form
post does what its ``/admin/api`` twin does through the same function, then redirects
back with a message; a refused action (wrong status, over the remainder, bad input)
becomes that message and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import get_args

from flask import flash, redirect, render_template, request, url_for

from flows import order_emails, shipping
from jobs.templates import money
from models.db import Session
from models.orders import rules
from models.orders.status import OrderStatus
from models.staff import Role
from web.admin import bp, order_query, refunds
from web.admin.auth import current_actor
from web.admin.forms import form_action, parse_form
from web.admin.order_query import OrderFilters
from web.admin.orders import ShipBody, load_order_detail, order_key, order_summary
from web.validation import parse_query

__all__ = ["bp"]


def _act(order_id: str, action: Callable[[], str]):
    """Run a form's action; its message (or the refusal's) is shown on the order page."""
    with form_action():
        flash(action(), "ok")
    return redirect(url_for("admin.page_order", order_id=order_id), 303)


@bp.get("/orders")
def page_orders():
    filters = parse_query(OrderFilters)
    with Session() as session:
        rows = list(session.scalars(order_query.page_query(filters)))
        count = session.scalar(order_query.count_query(filters))
    page, more = rows[: filters.limit], len(rows) > filters.limit
    query = {k: v for k, v in request.args.items() if k != "cursor" and v}
    next_url = None
    if more:
        next_cursor = order_query.next_cursor(filters, page[-1])
        next_url = url_for("admin.page_orders", **query, cursor=next_cursor)
    return render_template(
        "admin/orders.html",
        orders=[order_summary(order) for order in page],
        count=count,
        filters=request.args,
        statuses=list(OrderStatus),
        sorts=list(order_query.SORTS),
        next_url=next_url,
        csv_url=url_for("admin.export_orders", **query),
        csv_lines_url=url_for("admin.export_orders", **query, lines="true"),
    )


@bp.get("/orders/<order_id>")
def page_order(order_id: str):
    order = load_order_detail(order_id)
    return render_template(
        "admin/order.html",
        order=order,
        reasons=get_args(refunds.RefundBody.model_fields["reason"].annotation),
        may_act=current_actor().role != Role.VIEWER,
    )


@bp.post("/orders/<order_id>/ship")
def page_ship_order(order_id: str):
    def action() -> str:
        body = parse_form(ShipBody)
        shipping.ship(
            order_key(order_id), carrier=body.carrier, tracking_number=body.tracking_number
        )
        return "Marked shipped; the shipping email is on its way."

    return _act(order_id, action)


@bp.post("/orders/<order_id>/shipments/<int:shipment_id>/ship")
def page_ship_shipment(order_id: str, shipment_id: int):
    def action() -> str:
        body = parse_form(ShipBody)
        order = shipping.ship_shipment(
            order_key(order_id),
            shipment_id,
            carrier=body.carrier,
            tracking_number=body.tracking_number,
        )
        return f"Shipment sent; the order is {rules.label(order.status)}."

    return _act(order_id, action)


@bp.post("/orders/<order_id>/refund")
def page_refund_order(order_id: str):
    def action() -> str:
        body = parse_form(refunds.RefundBody, numbers=("amount_cents",))
        refund = refunds.request_refund(order_id, body)
        amount = money(refund.amount_cents, refund.currency)
        return f"Refund of {amount} requested; its status follows Stripe."

    return _act(order_id, action)


@bp.post("/orders/<order_id>/emails/confirmation")
def page_resend_confirmation_email(order_id: str):
    def action() -> str:
        order_emails.resend_confirmation(order_key(order_id))
        return "The confirmation email will be sent again."

    return _act(order_id, action)
