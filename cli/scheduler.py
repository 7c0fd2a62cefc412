"""``cartfleet scheduler``: the Procfile's scheduler process."""

from __future__ import annotations

import os
import signal
import time

import click


@click.command()
@click.option(
    "--lease-seconds",
    default=30,
    show_default=True,
    type=click.IntRange(min=3),
    help="Leader lease time: a dead leader is replaced within it.",
)
def scheduler(lease_seconds: int) -> None:
    """Enqueue the periodic jobs on their crons (UTC); safe to run on several machines."""
    os.environ["TZ"] = "UTC"
    time.tzset()
    import periodiq

    import worker.app  # noqa: F401  (metrics directory, then the usual start-up)
    from worker.broker import broker
    from worker.leader import LeaderLease
    from worker.scheduler import LeaderScheduler, periodic_actors

    actors = periodic_actors(broker)
    periodiq.print_periodic_actors(actors)
    lease = LeaderLease(broker.client, ttl_ms=lease_seconds * 1_000)
    running = LeaderScheduler(actors, lease=lease)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: running.stop())
    click.echo(f"Scheduler {lease.identity} started ({len(actors)} periodic jobs).")
    running.loop()
