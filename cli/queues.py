"""``cartfleet queues``: depth of every queue (ready, delayed, dead, oldest age) and workers."""

from __future__ import annotations

import json

import click

from worker import bootstrap
from worker import queues as fleet_queues


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the queues as a JSON array.")
def queues(as_json: bool) -> None:
    """Each queue's ready, in-progress, delayed and dead messages; broker heartbeats."""
    bootstrap.start()
    items = fleet_queues.queue_stats()
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    row = "{:<16} {:>7} {:>11} {:>8} {:>6} {:>12}"
    click.echo(row.format("QUEUE", "READY", "IN PROGRESS", "DELAYED", "DEAD", "OLDEST AGE"))
    for item in items:
        age = item["oldest_age_s"]
        click.echo(
            row.format(
                item["queue"],
                item["ready"],
                item["in_progress"],
                item["delayed"],
                item["dead"],
                "-" if age is None else f"{age:.1f} s",
            )
        )
    click.echo("\nprocesses by last heartbeat:")
    for process in fleet_queues.workers():
        state = "alive" if process["alive"] else "gone"
        click.echo(f"  {process['id']}  {process['last_heartbeat_at'][:19]}  {state}")
