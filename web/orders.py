"""Order read route (API.md "Checkout"): the storefront's view of one order."""

from __future__ import annotations

import uuid

from flask import Blueprint

from models.orders.reads import order_view
from models.orders.status import PURCHASED
from web import visitor
from web.errors import APIError
from web.serializers import order_json

bp = Blueprint("orders", __name__)


@bp.get("/api/orders/<order_id>")
def get_order(order_id: str):
    try:
        key = uuid.UUID(order_id)
    except ValueError:
        raise APIError(404, "not_found", "No such order.") from None
    order = order_view(key)
    if order is None:
        raise APIError(404, "not_found", "No such order.")
    if order.status in PURCHASED and order.email:
        visitor.remember_buyer(order.email)  # for the buyer's personal picks
    return order_json(order)
