"""Admin API and pages; every path requires ``Authorization: Bearer $ADMIN_TOKEN``."""

from __future__ import annotations

import hmac

from flask import Blueprint, request

from web.errors import APIError
from web.guards import is_admin_path
from worker.settings import get_settings

bp = Blueprint("admin", __name__, url_prefix="/admin")


# On the app rather than the blueprint: a blueprint's hook runs only for a path one of
# its routes matches, and an unknown admin path or method must be 401 before 404/405.
@bp.before_app_request
def require_admin_token() -> None:
    if not is_admin_path(request.path):
        return
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
    analytics,
    dead_letters,
    orders,
    products,
    queues,
    reconciliation,
    schedules,
    webhooks,
)

__all__ = [
    "analytics",
    "bp",
    "dead_letters",
    "orders",
    "products",
    "queues",
    "reconciliation",
    "schedules",
    "webhooks",
]
