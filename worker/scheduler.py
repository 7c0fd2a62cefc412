"""The ``cartfleet scheduler`` process: periodiq's cron over the fleet, behind a leader lease.

Any number of scheduler processes may run; each wakes at least every third of the lease
time. Only the holder of the Redis lease (worker.leader) enqueues, and every tick of a job
(actor, scheduled minute) claims a dedup key first, so a tick is enqueued at most once
fleet-wide. A new leader also sends ticks the previous one may have missed while its
lease ran out (the last ``lookback``), and, once when it takes over, a catch-up run of
each long-period job (the daily purge) whose last scheduled run was missed altogether.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from collections.abc import Iterable
from typing import Protocol

import dramatiq
import pendulum
import periodiq
import redis
from dramatiq.brokers.redis import RedisBroker

from models.db import Session
from models.infra import job_runs
from worker.leader import LeaderLease, current_leader

logger = logging.getLogger(__name__)

TICK_KEY = "cartfleet:scheduler:tick:{job}:{minute}"
CATCH_UP_KEY = "cartfleet:scheduler:catch-up:{job}:{minute}"
TICK_KEY_TTL_S = 3_600
CATCH_UP_KEY_TTL_S = 3 * 86_400
# Jobs that run this rarely get a catch-up run; shorter ones simply run at their next tick.
CATCH_UP_MIN_PERIOD = dt.timedelta(hours=1)
_MESSAGE_IDS = uuid.UUID("5b0c5e1e-8f3c-4c52-9d0e-4b1f0c7a9e21")


class Clock(Protocol):
    def now(self) -> pendulum.DateTime: ...

    def seconds_until(self, moment: pendulum.DateTime) -> float:
        """Real seconds to wait until ``moment`` on this clock."""


class SystemClock:
    def now(self) -> pendulum.DateTime:
        return pendulum.now("UTC")

    def seconds_until(self, moment: pendulum.DateTime) -> float:
        return (moment - self.now()).total_seconds()


def periodic_actors(broker: dramatiq.Broker) -> list[dramatiq.Actor]:
    return sorted(
        (actor for actor in broker.actors.values() if "periodic" in actor.options),
        key=lambda actor: actor.actor_name,
    )


def period(spec: periodiq.CronSpec, now: pendulum.DateTime) -> dt.timedelta:
    """The gap between the next two runs of ``spec`` (its period, for regular crons)."""
    first = spec.next_valid_date(now)
    return spec.next_valid_date(first) - first


def previous_run(spec: periodiq.CronSpec, now: pendulum.DateTime) -> pendulum.DateTime | None:
    """The latest minute at or before ``now`` at which ``spec`` was due (within 8 periods,
    and at least 8 days)."""
    # Walking a minutely cron through 8 days is 11 520 steps (seconds of CPU per admin page):
    # the last 8 periods come first, the whole window only when nothing was due in them.
    # The short window ends where the long one does, so its latest run is the latest.
    short = 8 * period(spec, now)
    for lookback in (short, max(short, dt.timedelta(days=8))):
        moment = now.start_of("minute") - lookback
        latest = None
        while (moment := spec.next_valid_date(moment)) <= now:
            latest = moment
        if latest is not None:
            return latest
    return None


class LeaderScheduler(periodiq.Scheduler):
    """periodiq's scheduler with a leader lease, per-tick dedup and a controllable clock."""

    def __init__(
        self,
        actors: list[dramatiq.Actor],
        *,
        lease: LeaderLease,
        clock: Clock | None = None,
        lookback: dt.timedelta | None = None,
    ) -> None:
        super().__init__(actors)
        self.lease = lease
        self.client: redis.Redis = lease.client
        self.clock = clock or SystemClock()
        # Long enough to cover a takeover (lease expiry plus a renewal interval), well
        # under periodiq's skip_delay so the ticks sent late still run.
        self.lookback = lookback or dt.timedelta(milliseconds=2 * lease.ttl_ms, minutes=1)
        self.renew_every_s = lease.ttl_ms / 3_000
        self.is_leader = False
        self._catch_up_pending = True
        self._sent: set[tuple[str, pendulum.DateTime]] = set()
        self._stopping = threading.Event()
        self._release_on_stop = True

    def send_actors(self, actors: Iterable[dramatiq.Actor], now: pendulum.DateTime) -> list[str]:
        """Enqueue each actor's tick at minute ``now`` unless it was already enqueued.

        Only the leader sends. Returns the names of the actors actually sent.
        """
        if not self.is_leader:
            return []
        sent = []
        for actor in actors:
            key = TICK_KEY.format(job=actor.actor_name, minute=now.isoformat())
            if (actor.actor_name, now) not in self._sent and self._send_once(
                actor, key=key, ttl_s=TICK_KEY_TTL_S, scheduled_at=now
            ):
                sent.append(actor.actor_name)
            self._sent.add((actor.actor_name, now))
        return sent

    def _send_once(
        self, actor: dramatiq.Actor, *, key: str, ttl_s: int, scheduled_at: pendulum.DateTime
    ) -> bool:
        if not self.client.set(key, self.lease.identity, nx=True, ex=ttl_s):
            return False
        message = actor.message_with_options(scheduled_at=scheduled_at.isoformat())
        message = message.copy(message_id=str(uuid.uuid5(_MESSAGE_IDS, key)))
        try:
            actor.broker.enqueue(message)
        except Exception:
            self.client.delete(key)  # let the next wake-up send it
            raise
        logger.info("Scheduled %s for %s", actor.actor_name, scheduled_at.isoformat())
        return True

    def tick(self) -> list[tuple[str, pendulum.DateTime]]:
        """One wake-up: hold or take the lease; as leader, send every tick due lately."""
        now = self.clock.now()
        was_leader, self.is_leader = self.is_leader, self.lease.acquire_or_renew()
        if self.is_leader != was_leader:
            logger.info(
                "Scheduler %s %s the leader lease",
                self.lease.identity,
                "holds" if self.is_leader else "lost",
            )
            self._catch_up_pending = self.is_leader
        if not self.is_leader:
            return []
        sent = []
        if self._catch_up_pending:
            try:
                sent = self.catch_up(now)
            except Exception:
                logger.exception("Catch-up check failed; retrying at the next wake-up")
        minute = (now - self.lookback).start_of("minute")
        while (minute := minute.add(minutes=1)) <= now:
            due = [actor for actor in self.actors if actor.options["periodic"].validate(minute)]
            sent.extend((name, minute) for name in self.send_actors(due, minute))
        self._sent = {(name, at) for name, at in self._sent if at > now - self.lookback}
        return sent

    def catch_up(self, now: pendulum.DateTime) -> list[tuple[str, pendulum.DateTime]]:
        """Run each long-period job once whose last due run did not happen (scheduler down)."""
        sent = []
        minute = now.start_of("minute")
        for actor in self.actors:
            spec = actor.options["periodic"]
            if period(spec, now) < CATCH_UP_MIN_PERIOD:
                continue
            missed = previous_run(spec, now)
            if missed is None or now - missed <= self.lookback:
                continue  # never due yet, or the regular ticks still cover it
            with Session() as session:
                if job_runs.ran_since(session, job=actor.actor_name, since=missed):
                    continue
            key = CATCH_UP_KEY.format(job=actor.actor_name, minute=missed.isoformat())
            if self._send_once(actor, key=key, ttl_s=CATCH_UP_KEY_TTL_S, scheduled_at=minute):
                logger.info("Catch-up run of %s, missed at %s", actor.actor_name, missed)
                sent.append((actor.actor_name, minute))
        self._catch_up_pending = False
        return sent

    def schedule(self) -> None:
        self.tick()

    def loop(self) -> None:
        """Wake up every third of the lease time and at each minute until ``stop``."""
        while not self._stopping.is_set():
            try:
                self.tick()
            except Exception:
                # Redis or the database is down: keep trying; followers take over if need be.
                logger.exception("Scheduler tick failed")
                self.is_leader = False
            self._stopping.wait(self._seconds_to_next_wake())
        if self._release_on_stop and self.is_leader:
            try:
                self.lease.release()
            except redis.RedisError:
                logger.warning("Could not release the leader lease; it expires on its own")

    def stop(self, *, release: bool = True) -> None:
        """Stop the loop; ``release=False`` leaves the lease to expire, as a crash would."""
        self._release_on_stop = release
        self._stopping.set()

    def _seconds_to_next_wake(self) -> float:
        next_minute = self.clock.now().start_of("minute").add(minutes=1)
        return max(0.01, min(self.renew_every_s, self.clock.seconds_until(next_minute)))


def schedule_overview(broker: RedisBroker, *, now: pendulum.DateTime | None = None) -> dict:
    """Every periodic job with its cron, last run and next run, and the current leader."""
    now = now or pendulum.now("UTC")
    actors = periodic_actors(broker)
    with Session() as session:
        last = job_runs.last_runs(session, jobs=[actor.actor_name for actor in actors])
    items = []
    for actor in actors:
        run = last.get(actor.actor_name)
        items.append(
            {
                "job": actor.actor_name,
                "queue": actor.queue_name,
                "cron": str(actor.options["periodic"]),
                "time_limit_ms": actor.options.get("time_limit"),
                "next_run": actor.options["periodic"].next_valid_date(now).isoformat(),
                "last_run": None
                if run is None
                else {
                    "scheduled_for": _iso(run.scheduled_for),
                    "started_at": _iso(run.started_at),
                    "finished_at": _iso(run.finished_at),
                    "outcome": run.outcome,
                    "items_processed": run.items_processed,
                    "error": run.error,
                },
            }
        )
    return {"leader": current_leader(broker.client), "items": items}


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None
