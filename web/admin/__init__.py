"""Admin API and pages: a staff session (with CSRF) or a bearer token on every path."""

from __future__ import annotations

from flask import Blueprint, Response, request

from web.admin import auth
from web.guards import is_admin_path

bp = Blueprint(
    "admin",
    __name__,
    url_prefix="/admin",
    static_folder="static",
)
bp.record_once(lambda state: auth.init_app(state.app))


# On the app rather than the blueprint: a blueprint's hook runs only for a path one of
# its routes matches, and an unknown admin path or method must be 401 before 404/405.
@bp.before_app_request
def require_admin() -> Response | None:
    return auth.authenticate() if is_admin_path(request.path) else None


# Route modules attach their views to ``bp``; imported last so ``bp`` exists.
from web.admin import (  # noqa: E402
    analytics,
    analytics_pages,
    audit,
    audit_pages,
    dashboard,
    dead_letters,
    discount_codes,
    export,
    login,
    order_pages,
    orders,
    product_images,
    product_pages,
    products,
    queue_pages,
    queues,
    recommendation_pages,
    recommendations,
    reconciliation,
    reconciliation_pages,
    refunds,
    schedule_pages,
    schedules,
    staff_pages,
    templating,
    users,
    warehouse_pages,
    warehouses,
    webhook_pages,
    webhooks,
)

__all__ = [
    "analytics",
    "analytics_pages",
    "audit",
    "audit_pages",
    "bp",
    "dashboard",
    "dead_letters",
    "discount_codes",
    "export",
    "login",
    "order_pages",
    "orders",
    "product_images",
    "product_pages",
    "products",
    "queue_pages",
    "queues",
    "recommendation_pages",
    "recommendations",
    "reconciliation",
    "reconciliation_pages",
    "refunds",
    "schedule_pages",
    "schedules",
    "staff_pages",
    "templating",
    "users",
    "warehouse_pages",
    "warehouses",
    "webhook_pages",
    "webhooks",
]
