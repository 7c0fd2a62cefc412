"""Middleware: the metrics the queue-lag and schedule alerts need (ops/prometheus-alerts.yml).

- ``cartfleet_queue_wait_seconds`` (histogram, by queue): how long a message waited
  ready on its queue before a worker started it (from its delay's end, else its send).
- ``cartfleet_periodic_job_last_success_timestamp_seconds`` (by job): when each periodic
  job last finished without an error, and ``cartfleet_periodic_job_period_seconds``
  its cron's period, so one rule can tell a job that missed its runs.
"""

from __future__ import annotations

import time

import dramatiq
import pendulum
from dramatiq.broker import MessageProxy
from dramatiq.middleware import Middleware
from prometheus_client import Gauge, Histogram

from worker.queues import waiting_since_ms
from worker.scheduler import period, periodic_actors

QUEUE_WAIT = Histogram(
    "cartfleet_queue_wait_seconds",
    "Time a message waited ready on its queue before a worker started it.",
    ["queue_name"],
    buckets=(0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 900, 1800),
)
LAST_SUCCESS = Gauge(
    "cartfleet_periodic_job_last_success_timestamp_seconds",
    "Unix time a periodic job last finished without an error.",
    ["job"],
    multiprocess_mode="max",
)
PERIOD = Gauge(
    "cartfleet_periodic_job_period_seconds",
    "Seconds between two scheduled runs of a periodic job (its cron's period).",
    ["job"],
    multiprocess_mode="max",
)


class FleetMetrics(Middleware):
    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        now = pendulum.now("UTC")
        for actor in periodic_actors(broker):
            seconds = period(actor.options["periodic"], now).total_seconds()
            PERIOD.labels(job=actor.actor_name).set(seconds)

    def before_process_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        waited = time.time() - waiting_since_ms(message) / 1000
        queue = message.queue_name.removesuffix(".DQ")
        QUEUE_WAIT.labels(queue_name=queue).observe(max(0.0, waited))

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: MessageProxy,
        *,
        result: object = None,
        exception: BaseException | None = None,
    ) -> None:
        if exception is None and not message.failed:
            actor = broker.get_actor(message.actor_name)
            if "periodic" in actor.options:
                LAST_SUCCESS.labels(job=actor.actor_name).set(time.time())
