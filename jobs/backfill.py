"""The Stripe Events API backfill: no event is lost past Stripe's webhook retries.

Stripe retries a failed webhook for three days and keeps events listable for thirty.
``backfill_stripe_events`` lists the handled types from a stored cursor (less an
overlap, for events that become visible out of order), oldest first, and stores each
event the inbox lacks through ``jobs.stripe_events.store_event``, the webhook's own path
(``source = 'backfill'``): dedupe, processing and exactly-once are the webhook's. It then
sweeps events Stripe reports undelivered (``delivery_success=false``) from before the
cursor's window. A run works through one day of events at a time and moves the cursor
after each, so a run cut short resumes where it stopped.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections import Counter as Tally
from dataclasses import dataclass, field
from typing import Any

import dramatiq
from periodiq import cron
from prometheus_client import Counter, Gauge

from jobs.stripe_events import store_event
from jobs.stripe_handlers import HANDLED_EVENT_TYPES
from models import inbox
from models.base import utcnow
from models.db import Session
from models.infra import backfill_cursors
from services import stripe
from services.alerts import send_alert
from services.settings import get_settings

logger = logging.getLogger(__name__)

BACKFILLED = Counter(
    "stripe_events_backfilled_total",
    "Stripe events the Events API backfill stored because the inbox lacked them.",
    ["type"],
)
CURSOR_AGE = Gauge(
    "stripe_backfill_cursor_age_seconds",
    "Age of the backfill cursor: every Stripe event created before it has been checked.",
    multiprocess_mode="mostrecent",
)

FIRST_LOOKBACK = dt.timedelta(days=3)  # Stripe's retry window, when there is no cursor yet
WINDOW = dt.timedelta(days=1)
SWEEP_LOOKBACK = dt.timedelta(days=29)  # within Stripe's 30 days of listable events
CURSOR_ALERT_AGE = dt.timedelta(days=25)
# An event found this long after it was created is one the webhook never delivered (a
# younger one may simply have its webhook on the way).
UNDELIVERED_AFTER = dt.timedelta(minutes=5)
TYPES = sorted(HANDLED_EVENT_TYPES)


@dataclass
class Report:
    """What one backfill run did (printed by ``cartfleet webhooks backfill``)."""

    since: str
    listed: int = 0
    stored: dict[str, int] = field(default_factory=dict)
    undelivered: int = 0
    api_calls: int = 0
    cursor_age_seconds: float | None = None


def _seconds(moment: dt.datetime, *, up: bool = False) -> int:
    # Stripe's ``created`` is whole seconds: round the upper bound up, so an event of
    # the current second is listed now rather than skipped.
    return math.ceil(moment.timestamp()) if up else math.floor(moment.timestamp())


def _at(created: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(created, dt.UTC)


def run(*, since: dt.datetime | None = None, now: dt.datetime | None = None) -> Report:
    """List Stripe's events from the cursor (or ``since``) to now and store the missing ones."""
    now = now or utcnow()
    overlap = dt.timedelta(minutes=get_settings().stripe_backfill_overlap_minutes)
    with Session() as session:
        position = backfill_cursors.position(session)
    start = since or (position - overlap if position else now - FIRST_LOOKBACK)
    report = Report(since=start.isoformat())
    if position is not None:  # reported even when this run then fails
        CURSOR_AGE.set(max(0.0, (now - position).total_seconds()))
    tally: Tally[str] = Tally()
    undelivered = 0
    if position is not None and now - position > CURSOR_ALERT_AGE:
        send_alert(
            "Stripe backfill cursor is older than 25 days",
            cursor=position.isoformat(),
            horizon="Stripe lists events for 30 days; older ones cannot be recovered",
        )
    lower = start
    while lower < now:
        upper = min(lower + WINDOW, now)
        events = _listed(report, created_gte=lower, created_lt=upper)
        found, late = _store(events, now=now)
        tally.update(found)
        undelivered += late
        newest = max(events, key=lambda e: e["created"], default=None)
        reached = max(_at(newest["created"]), upper - overlap) if newest else upper - overlap
        with Session.begin() as session:
            backfill_cursors.advance(session, to=reached, event_id=newest["id"] if newest else None)
        lower = upper
    sweep_upper = min(start, now)
    if now - SWEEP_LOOKBACK < sweep_upper:
        events = _listed(
            report, created_gte=now - SWEEP_LOOKBACK, created_lt=sweep_upper, undelivered=True
        )
        found, late = _store(events, now=now)
        tally.update(found)
        undelivered += late
    report.stored, report.undelivered = dict(tally), undelivered
    with Session() as session:
        position = backfill_cursors.position(session)
    if position is not None:
        report.cursor_age_seconds = max(0.0, (utcnow() - position).total_seconds())
        CURSOR_AGE.set(report.cursor_age_seconds)
    if undelivered:
        send_alert(
            "Stripe events found by backfill that the webhook never delivered",
            events=undelivered,
            types=", ".join(sorted(tally)),
            check="the webhook endpoint at Stripe (disabled? wrong signing secret?)",
        )
    logger.info("Stripe backfill: %s", report)
    return report


def _listed(
    report: Report, *, created_gte: dt.datetime, created_lt: dt.datetime, undelivered: bool = False
) -> list[dict[str, Any]]:
    """The window's events, oldest first."""

    def count_call() -> None:
        report.api_calls += 1

    events = list(
        stripe.list_events(
            created_gte=_seconds(created_gte),
            created_lt=_seconds(created_lt, up=True),
            types=TYPES,
            delivery_success=False if undelivered else None,
            on_page=count_call,
        )
    )
    report.listed += len(events)
    return sorted(reversed(events), key=lambda event: event["created"])


def _store(events: list[dict[str, Any]], *, now: dt.datetime) -> tuple[Tally[str], int]:
    """Store the events the inbox lacks; returns how many by type, and how many were late."""
    stored: Tally[str] = Tally()
    late = 0
    for chunk in (events[i : i + 500] for i in range(0, len(events), 500)):
        with Session() as session:
            known = inbox.known_ids(session, [event["id"] for event in chunk])
        for event in chunk:
            if event["id"] in known or store_event(event, source="backfill") == "duplicate":
                continue
            stored[event["type"]] += 1
            BACKFILLED.labels(type=event["type"]).inc()
            late += now - _at(event["created"]) > UNDELIVERED_AFTER
    return stored, late


@dramatiq.actor(
    actor_name="backfill_stripe_events",
    queue_name="maintenance",
    periodic=cron(f"*/{get_settings().stripe_backfill_interval_minutes} * * * *"),
    max_retries=0,  # the next run is the retry; the cursor keeps what this one did
    time_limit=300_000,
)
def backfill_stripe_events() -> int:
    """Store the Stripe events the webhook did not deliver; returns how many."""
    return sum(run().stored.values())
