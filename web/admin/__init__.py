"""Admin API and pages; every route requires ``Authorization: Bearer $ADMIN_TOKEN``."""

from __future__ import annotations

import hmac

from flask import Blueprint, request

from web.errors import APIError
from worker.settings import get_settings

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
def require_admin_token() -> None:
    expected = get_settings().admin_token
    scheme, _, supplied = request.headers.get("Authorization", "").partition(" ")
    authorized = (
        bool(expected)
        and scheme.lower() == "bearer"
        and hmac.compare_digest(supplied.strip().encode(), expected.encode())
    )
    if not authorized:
        raise APIError(401, "unauthorized", "A valid admin bearer token is required.")


# Route modules attach their views to ``bp``; imported last so ``bp`` exists.
from web.admin import (  # noqa: E402
    dead_letters,
    orders,
    products,
    reconciliation,
    schedules,
    webhooks,
)

__all__ = [
    "bp",
    "dead_letters",
    "orders",
    "products",
    "reconciliation",
    "schedules",
    "webhooks",
]
