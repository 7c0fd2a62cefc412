"""The analytics page: the cart funnel and the recovery figures over a date range."""

from __future__ import annotations

from flask import render_template

from models.db import Session
from models.recovery import analytics
from web.admin import bp
from web.admin.analytics import Period
from web.admin.charts import bar_chart
from web.validation import parse_query

__all__ = ["bp"]


@bp.get("/analytics")
def page_analytics():
    period = parse_query(Period)
    with Session() as session:
        funnel = analytics.funnel(session, start=period.from_, end=period.to)
        recovery = analytics.recovery(session, start=period.from_, end=period.to)
    charts = {
        "funnel": bar_chart(
            [(step["step"].replace("_", " "), step["count"]) for step in funnel["steps"]],
            title="Carts reaching each step",
        ),
        "reminders": bar_chart(
            list(recovery["reminders_sent"].items()), title="Reminders sent by step"
        ),
        "recovered": bar_chart(
            list(recovery["carts_recovered_by_step"].items()), title="Carts recovered by step"
        ),
    }
    return render_template(
        "admin/analytics.html",
        funnel=funnel,
        recovery=recovery,
        charts=charts,
        start=period.from_.date().isoformat(),
        end=period.to.date().isoformat(),
    )
