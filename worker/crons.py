"""Sentry Crons check-ins for every run of a periodic actor.

Each actor declared with ``periodic=cron(...)`` is a Sentry monitor (slug: its name with
hyphens) whose config travels with every check-in, so Sentry creates and updates it:
its crontab, in UTC as the scheduler runs it, a check-in margin and a maximum runtime
from the actor's ``time_limit``. A run checks in ``in_progress`` when it starts and
``ok`` or ``error`` with its duration when it ends; a run that never starts (scheduler
down, tick dropped as stale) or never ends (worker killed) is Sentry's to alert on.

Last in the stack: ticks skipped by periodiq (stale) or by worker.job_runs (already run)
never check in, and nothing after it can skip a run it has checked in.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dramatiq
from dramatiq.broker import MessageProxy
from dramatiq.middleware import Middleware
from sentry_sdk.crons import capture_checkin
from sentry_sdk.crons.consts import MonitorStatus

if TYPE_CHECKING:
    # Sentry declares its monitor config type for type checkers only.
    from sentry_sdk._types import MonitorConfig

MAX_SLUG_CHARS = 50


def monitor_slug(actor_name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", actor_name.lower()).strip("-")[:MAX_SLUG_CHARS]


def monitor_config(
    actor: dramatiq.Actor, *, default_time_limit_ms: int, checkin_margin_minutes: int
) -> MonitorConfig:
    """The Sentry monitor config of periodic ``actor``."""
    limit_ms = actor.options.get("time_limit", default_time_limit_ms)
    return {
        "schedule": {"type": "crontab", "value": str(actor.options["periodic"])},
        "timezone": "UTC",
        "checkin_margin": checkin_margin_minutes,
        # A minute over the time limit, so the run's own error check-in comes first.
        "max_runtime": math.ceil(limit_ms / 60_000) + 1,
    }


@dataclass(frozen=True)
class _CheckIn:
    slug: str
    check_in_id: str | None
    config: MonitorConfig
    started: float


class CronMonitor(Middleware):
    """Checks in every run of an actor declared with ``periodic=`` to Sentry Crons.

    ``checkin_margin_minutes``: how late a run may start before Sentry reports it missed.
    """

    def __init__(self, *, default_time_limit_ms: int, checkin_margin_minutes: int) -> None:
        self.default_time_limit_ms = default_time_limit_ms
        self.checkin_margin_minutes = checkin_margin_minutes
        self._runs: dict[str, _CheckIn] = {}

    def before_process_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        actor = broker.get_actor(message.actor_name)
        if "periodic" not in actor.options:
            return
        slug = monitor_slug(actor.actor_name)
        config = monitor_config(
            actor,
            default_time_limit_ms=self.default_time_limit_ms,
            checkin_margin_minutes=self.checkin_margin_minutes,
        )
        check_in_id = capture_checkin(
            monitor_slug=slug, status=MonitorStatus.IN_PROGRESS, monitor_config=config
        )
        self._runs[message.message_id] = _CheckIn(slug, check_in_id, config, time.monotonic())

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        check_in = self._runs.pop(message.message_id, None)
        if check_in is None:
            return
        capture_checkin(
            monitor_slug=check_in.slug,
            check_in_id=check_in.check_in_id,
            status=MonitorStatus.OK if exception is None else MonitorStatus.ERROR,
            duration=time.monotonic() - check_in.started,
            monitor_config=check_in.config,
        )
