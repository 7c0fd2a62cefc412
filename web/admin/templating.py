"""What every admin template may use: the acting staff user, the order rules, money."""

from __future__ import annotations

from typing import Any

from flask import g, request

from jobs.templates import money
from models.orders import rules
from web.admin import bp


@bp.app_template_filter("money")
def _money(cents: int | None, currency: str = "usd") -> str:
    return "" if cents is None else money(cents, currency)


@bp.app_context_processor
def _page_context() -> dict[str, Any]:
    if request.blueprint != "admin":
        return {"actor": None}
    return {"actor": g.get("actor"), "order_rules": rules}
