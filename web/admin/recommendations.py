"""Admin API: a product's recommendation neighbours and exclusion; rebuild them now."""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import StrictBool

from flows import recommendations as flow
from web.admin import bp
from web.admin.auth import current_actor
from web.admin.schedules import run_json
from web.validation import Schema, parse_body

__all__ = ["ExclusionBody", "bp", "report_json"]


class ExclusionBody(Schema):
    excluded: StrictBool


def report_json(sku: str) -> dict[str, Any]:
    """The report as the API answers it and the page shows it."""
    report = flow.report(sku)
    report["neighbours"] = [dataclasses.asdict(item) for item in report["neighbours"]]
    report["last_run"] = run_json(report["last_run"]) if report["last_run"] else None
    return report


@bp.get("/api/products/<sku>/recommendations")
def product_recommendations(sku: str):
    """The product's neighbours with their scores, its exclusion, and the last rebuild."""
    return report_json(sku)


@bp.put("/api/products/<sku>/recommendations/exclusion")
def exclude_from_recommendations(sku: str):
    """Keep the product out of every recommendation (``excluded``: true) or let it back."""
    body = parse_body(ExclusionBody)
    flow.set_excluded(sku, excluded=body.excluded, by=current_actor().label)
    return report_json(sku)


@bp.post("/api/recommendations/recompute")
def recompute_recommendations():
    """Rebuild every product's neighbours now (the nightly job, run by hand)."""
    message = flow.recompute()
    return {
        "job": message.actor_name,
        "queue": message.queue_name,
        "message_id": message.message_id,
    }, 202
