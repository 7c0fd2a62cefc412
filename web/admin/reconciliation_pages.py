"""The reconciliation page: orders whose reservations could not be confirmed, the 7-day
trend, top products and reasons, events not applied; retry now or resolve with a note."""

from __future__ import annotations

import datetime as dt

from flask import flash, g, redirect, render_template, request, url_for
from pydantic import ValidationError

from flows import reconciliation
from models.errors import CartfleetError
from web.admin import bp
from web.admin.charts import bar_chart
from web.admin.reconciliation import ReconciliationQuery, ResolveBody, listing_json, order_key
from web.validation import parse_query

__all__ = ["bp"]

RUNBOOK = "docs/runbooks/reconciliation.md"
OUTCOMES = {
    "confirmed": "Confirmed: the reservations are settled and the order leaves the list.",
    "retrying": "Still short of stock; the retry job tries again later.",
}


def _back():
    state = request.form.get("state", "")
    query = {"state": state} if state else {}
    return redirect(url_for("admin.page_reconciliation", **query), 303)


@bp.get("/reconciliation")
def page_reconciliation():
    listing = listing_json(parse_query(ReconciliationQuery))
    trend = listing["summary"]["trend"]
    chart = bar_chart(
        [(dt.date.fromisoformat(day["day"]).strftime("%a %d"), day["failures"]) for day in trend],
        title="Reservation-confirmation failures per day, 7 days",
    )
    return render_template(
        "admin/reconciliation.html",
        listing=listing,
        chart=chart,
        state=request.args.get("state", "all"),
        runbook=RUNBOOK,
    )


@bp.post("/reconciliation/<order_id>/retry")
def page_retry_reconciliation(order_id: str):
    try:
        outcome, _ = reconciliation.retry(order_key(order_id))
        flash(OUTCOMES.get(outcome, outcome), "ok")
    except CartfleetError as error:
        flash(error.message, "error")
        g.audit_status = error.status
    return _back()


@bp.post("/reconciliation/<order_id>/resolve")
def page_resolve_reconciliation(order_id: str):
    try:
        key = order_key(order_id)
        body = ResolveBody.model_validate({"note": request.form.get("note", "").strip()})
        reconciliation.resolve(key, body.note)
        flash("Marked resolved; the note is on the order's timeline.", "ok")
    except ValidationError:
        flash("Write a note saying how it was settled.", "error")
        g.audit_status = 422
    except CartfleetError as error:
        flash(error.message, "error")
        g.audit_status = error.status
    return _back()
