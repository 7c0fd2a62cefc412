"""The metrics behind the queue-lag and schedule alerts, from a real worker run."""

from __future__ import annotations

import time

from prometheus_client import REGISTRY

from jobs.outbox import relay_outbox


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_periodic_run_records_its_success_and_its_wait(broker, drain_queues):
    waits_before = sample("cartfleet_queue_wait_seconds_count", queue_name="maintenance")
    before = time.time()

    relay_outbox.send()
    drain_queues()

    last = sample("cartfleet_periodic_job_last_success_timestamp_seconds", job="relay_outbox")
    assert before <= last <= time.time()
    waits = sample("cartfleet_queue_wait_seconds_count", queue_name="maintenance")
    assert waits == waits_before + 1
    assert sample("cartfleet_periodic_job_period_seconds", job="relay_outbox") == 60
    assert sample("cartfleet_periodic_job_period_seconds", job="purge_expired_sessions") == 86_400
