"""The recommendations page: a product's neighbours and scores, its exclusion, the last
rebuild; exclude or include the product, rebuild now."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from pydantic import BaseModel

from flows import recommendations as flow
from models.errors import CartfleetError, NotFound
from web.admin import bp
from web.admin.auth import current_actor
from web.admin.forms import form_action, parse_form, refuse
from web.admin.recommendations import report_json
from web.admin.schedules import run_json

__all__ = ["bp"]


class ExclusionForm(BaseModel):
    excluded: bool


def _last_run() -> dict | None:
    run = flow.last_run()
    return run_json(run) if run else None


@bp.get("/recommendations")
def page_recommendations():
    sku = request.args.get("sku", "").strip()[:64]
    report = None
    if sku:
        try:
            report = report_json(sku)
        except NotFound as error:
            flash(error.message, "error")
    last_run = report["last_run"] if report else _last_run()
    return render_template("admin/recommendations.html", sku=sku, report=report, last_run=last_run)


@bp.post("/recommendations/<sku>/exclusion")
def page_exclude_from_recommendations(sku: str):
    with form_action():
        form = parse_form(ExclusionForm)
        flow.set_excluded(sku, excluded=form.excluded, by=current_actor().label)
        flash(f"{sku} is {'kept out of' if form.excluded else 'back in'} recommendations.", "ok")
    return redirect(url_for("admin.page_recommendations", sku=sku), 303)


@bp.post("/recommendations/recompute")
def page_recompute_recommendations():
    try:
        message = flow.recompute()
        flash(f"A rebuild is queued on {message.queue_name}.", "ok")
    except CartfleetError as error:
        refuse(error.message, status=error.status)
    return redirect(url_for("admin.page_recommendations"), 303)
