"""The fleet's Redis broker and its middleware stack.

Importing this module builds the broker from ``REDIS_URL`` and makes it the global
Dramatiq broker, so every ``@dramatiq.actor`` declared afterwards binds to it.
"""

from __future__ import annotations

import math

import dramatiq
import redis
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    CurrentMessage,
    Pipelines,
    Retries,
    ShutdownNotifications,
    TimeLimit,
)
from dramatiq.middleware.prometheus import Prometheus
from periodiq import PeriodiqMiddleware

from services.observability import init_sentry
from services.settings import ConfigurationError, get_settings
from services.tracing import SentryTracing
from worker.crons import CronMonitor
from worker.dead_letter_recorder import DeadLetterRecorder
from worker.fleet_metrics import FleetMetrics
from worker.job_runs import JobRunRecorder
from worker.wakeups import WakingRedisBroker

# Fleet-wide retry defaults; actors state their own where they differ.
DEFAULT_MAX_RETRIES = 10
DEFAULT_MIN_BACKOFF_MS = 1_000
DEFAULT_MAX_BACKOFF_MS = 600_000
DEFAULT_TIME_LIMIT_MS = 300_000

# A worker killed with SIGKILL stops heart-beating (and one cut off from Redis takes a
# new identity, worker/leases.py); after HEARTBEAT_TIMEOUT_MS a maintenance pass puts
# the silent identity's unacked messages back. Dramatiq runs that pass inside a
# chance of the Redis calls, and a pass only requeues the queue of the call it rides on,
# so on a quiet queue it waits for that queue's own fetches: one per worker process about
# every second (worker/wakeups.py). At one call in two, the pass comes within about 2 s
# of the timeout even with a single process (Dramatiq's default, one in a thousand, can
# take many minutes). When no worker is dead, a pass costs two range reads in the script.
HEARTBEAT_TIMEOUT_MS = 20_000
MAINTENANCE_CHANCE = 500_000  # out of 1,000,000 calls

# periodiq drops a scheduled message that waited longer than this for a worker.
PERIODIC_SKIP_DELAY_S = 300

REDIS_SOCKET_TIMEOUT_S = 5

# Every queue an actor of the fleet uses (tests check the actors against it). Declared
# when the broker is built, so a process that loads no actors (a stock Dramatiq
# dashboard mounted on this broker, the CLI) still sees them all.
FLEET_QUEUES = ("carts", "email", "maintenance", "media", "payments", "recovery", "webhooks")


def redis_client(url: str) -> redis.Redis:
    """A client with bounded timeouts, so an outage fails fast instead of hanging."""
    return redis.Redis.from_url(
        url,
        socket_timeout=REDIS_SOCKET_TIMEOUT_S,
        socket_connect_timeout=2,
        health_check_interval=30,
    )


def build_broker(
    url: str, *, sentry: bool = False, heartbeat_timeout_ms: int = HEARTBEAT_TIMEOUT_MS
) -> WakingRedisBroker:
    """Build the broker with the fleet's middleware on the standard ``dramatiq`` namespace.

    ``sentry``: add the Sentry middleware (transactions, trace propagation, cron
    check-ins); without it nothing Sentry-related runs per message.
    ``heartbeat_timeout_ms``: how long a silent identity keeps its leases (tests shorten it).
    """
    middleware = [
        AgeLimit(),
        TimeLimit(time_limit=DEFAULT_TIME_LIMIT_MS),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        Retries(
            max_retries=DEFAULT_MAX_RETRIES,
            min_backoff=DEFAULT_MIN_BACKOFF_MS,
            max_backoff=DEFAULT_MAX_BACKOFF_MS,
        ),
        DeadLetterRecorder(),
        CurrentMessage(),
        FleetMetrics(),
        Prometheus(),
        PeriodiqMiddleware(skip_delay=PERIODIC_SKIP_DELAY_S),
        JobRunRecorder(default_time_limit_ms=DEFAULT_TIME_LIMIT_MS),
    ]
    if sentry:
        middleware.insert(0, SentryTracing())
        middleware.append(
            CronMonitor(
                default_time_limit_ms=DEFAULT_TIME_LIMIT_MS,
                # A tick not started by then is dropped by periodiq: it will not start.
                checkin_margin_minutes=math.ceil(PERIODIC_SKIP_DELAY_S / 60),
            )
        )
    built = WakingRedisBroker(
        client=redis_client(url),
        middleware=middleware,
        namespace="dramatiq",
        heartbeat_timeout=heartbeat_timeout_ms,
        maintenance_chance=MAINTENANCE_CHANCE,
    )
    for queue in FLEET_QUEUES:
        built.declare_queue(queue)
    return built


def _setup() -> WakingRedisBroker:
    settings = get_settings()
    if not settings.redis_url:
        raise ConfigurationError("REDIS_URL is not set")
    sentry = init_sentry(settings)
    built = build_broker(settings.redis_url, sentry=sentry)
    dramatiq.set_broker(built)
    return built


broker = _setup()
