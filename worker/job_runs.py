"""Middleware recording every run of a periodic actor in ``job_runs``.

It sits after periodiq's middleware, so ticks periodiq skips as stale are not recorded.
Each run gets a row before the actor starts (``running``) and its outcome, duration and
items processed (the actor's int return value) after. A second delivery of a tick that
already ran, or is running, is skipped: that is what makes each tick run at most once
even if it was enqueued twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import dramatiq
import pendulum
from dramatiq.broker import MessageProxy
from dramatiq.middleware import Middleware, SkipMessage

from models.db import Session
from models.infra import job_runs

logger = logging.getLogger(__name__)

MAX_ERROR_CHARS = 2_000


def scheduled_for(message: MessageProxy) -> dt.datetime | None:
    """The tick a periodic message was sent for (None when triggered by hand)."""
    value = message.options.get("scheduled_at")
    if not value:
        return None
    tick = pendulum.parse(value)
    if not isinstance(tick, dt.datetime):
        # The scheduler sends the tick as a full timestamp; anything else is no tick.
        raise ValueError(f"scheduled_at {value!r} is not a moment")
    return tick


def items_processed(result: Any) -> int:
    if isinstance(result, bool):
        return 0
    if isinstance(result, int):
        return result
    if isinstance(result, dict) and isinstance(result.get("processed"), int):
        return result["processed"]
    return 0


class JobRunRecorder(Middleware):
    """Writes one ``job_runs`` row per run of every actor declared with ``periodic=``."""

    def __init__(self, *, default_time_limit_ms: int) -> None:
        self.default_time_limit_ms = default_time_limit_ms
        self._runs: dict[str, int] = {}

    def before_process_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        actor = broker.get_actor(message.actor_name)
        if "periodic" not in actor.options:
            return
        limit_ms = actor.options.get("time_limit", self.default_time_limit_ms)
        with Session.begin() as session:
            run_id = job_runs.start_run(
                session,
                job=actor.actor_name,
                scheduled_for=scheduled_for(message),
                time_limit=dt.timedelta(milliseconds=limit_ms),
            )
        if run_id is None:
            logger.info("%s for %s already ran; skipping", actor.actor_name, scheduled_for(message))
            raise SkipMessage()
        self._runs[message.message_id] = run_id

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        run_id = self._runs.pop(message.message_id, None)
        if run_id is None:
            return
        error = None
        if exception is not None:
            error = f"{type(exception).__name__}: {exception}"[:MAX_ERROR_CHARS]
        with Session.begin() as session:
            job_runs.finish_run(
                session,
                run_id=run_id,
                outcome="success" if exception is None else "failure",
                items_processed=items_processed(result),
                error=error,
            )

    def after_skip_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        run_id = self._runs.pop(message.message_id, None)
        if run_id is not None:
            with Session.begin() as session:
                job_runs.finish_run(session, run_id=run_id, outcome="skipped")
