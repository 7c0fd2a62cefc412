"""The admin home: the fleet at a glance, each figure linking to the page that explains it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pendulum
import redis
from flask import render_template

from models import inbox, inbox_queries
from models.base import utcnow
from models.db import Session
from models.orders import confirmation_report as report
from models.orders import figures
from services.redis_broker import redis_broker
from web.admin import bp
from web.admin.charts import bar_chart
from web.admin.schedule_pages import with_problems
from worker import dead_letters, queues
from worker.scheduler import schedule_overview

__all__ = ["bp"]

DAY = dt.timedelta(hours=24)


def _hour(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%H:00")


def _fleet() -> dict[str, Any]:
    """Queue depths (dead letters too) and the schedules in trouble; None without Redis."""
    try:
        dead_letters.adopt_redis_entries()  # dead letters Redis holds and the archive lacks
        stats = queues.queue_stats()
        overview = schedule_overview(redis_broker())
    except redis.RedisError:
        return {"queues": None, "late_schedules": None}
    items = with_problems(overview["items"], now=pendulum.now("UTC"))
    return {"queues": stats, "late_schedules": [item for item in items if item["problem"]]}


@bp.get("/")
def page_index():
    now = utcnow()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    with Session() as session:
        today = figures.window_figures(session, since=midnight)
        week = figures.window_figures(session, since=now - dt.timedelta(days=7))
        awaiting = figures.awaiting_payment(session)
        orders_hourly = figures.orders_per_hour(session, now=now)
        webhooks = inbox.health(session, window=DAY)
        events_hourly = inbox_queries.per_hour(session, now=now)
        reservation_errors = report.affected_orders(session)
    charts = {
        "orders": bar_chart(
            [(_hour(hour), count) for hour, count in orders_hourly], title="Orders per hour, 24 h"
        ),
        "events": bar_chart(
            [(_hour(hour), events) for hour, events, _ in events_hourly],
            title="Webhook events per hour, 24 h",
        ),
        "failing": bar_chart(
            [(_hour(hour), failing) for hour, _, failing in events_hourly],
            title="Webhook events failed or dead per hour, 24 h",
        ),
    }
    return render_template(
        "admin/dashboard.html",
        today=today,
        today_date=midnight.date().isoformat(),
        week=week,
        awaiting=awaiting,
        webhooks=webhooks,
        reservation_errors=reservation_errors,
        charts=charts,
        **_fleet(),
    )
