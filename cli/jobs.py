"""``cartfleet jobs``: the periodic jobs, their last and next runs, and running one now."""

from __future__ import annotations

import json

import click
from dramatiq.brokers.redis import RedisBroker

from services.redis_broker import redis_broker
from worker import bootstrap


def _broker() -> RedisBroker:
    bootstrap.start()
    return redis_broker()


def _short(value: str | None) -> str:
    return value[:19].replace("T", " ") if value else "-"


@click.group()
def jobs() -> None:
    """Periodic jobs: schedules, runs, leader."""


@jobs.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the jobs as a JSON array.")
def list_jobs(as_json: bool) -> None:
    """Each periodic job: cron, last run, next run (UTC); and the scheduler leader.

    ``--json`` prints the jobs alone, as every list command does; ``jobs leader`` gives
    the leader.
    """
    from worker.scheduler import schedule_overview

    overview = schedule_overview(_broker())
    if as_json:
        click.echo(json.dumps(overview["items"], indent=2))
        return
    row = "{:<34} {:<14} {:<19} {:<9} {:>6}  {:<19}"
    click.echo(row.format("JOB", "CRON", "LAST STARTED", "OUTCOME", "ITEMS", "NEXT RUN"))
    for item in overview["items"]:
        last = item["last_run"] or {}
        click.echo(
            row.format(
                item["job"],
                item["cron"],
                _short(last.get("started_at")),
                last.get("outcome", "-"),
                last.get("items_processed", "-"),
                _short(item["next_run"]),
            )
        )
    click.echo(f"\nleader: {_leader_line(overview['leader'])}")


def _leader_line(leader: dict | None) -> str:
    if leader is None:
        return "none (no scheduler holds the lease)"
    return f"{leader['id']} (lease expires in {leader['expires_in_ms']} ms)"


@jobs.command("leader")
@click.option("--json", "as_json", is_flag=True, help="Print the lease as JSON (null if none).")
def show_leader(as_json: bool) -> None:
    """The scheduler holding the leader lease, and when the lease expires."""
    from worker.leader import current_leader

    leader = current_leader(_broker().client)
    click.echo(json.dumps(leader, indent=2) if as_json else _leader_line(leader))


@jobs.command("run")
@click.argument("name")
def run_job(name: str) -> None:
    """Enqueue the periodic job NAME now (a manual run, recorded without a tick)."""
    from flows import schedules
    from models.errors import NotFound

    bootstrap.start()
    try:
        message = schedules.run_now(name)
    except NotFound as unknown:
        raise click.BadParameter(
            f"unknown periodic job {name!r}; one of: {', '.join(unknown.extra['jobs'])}",
            param_hint="NAME",
        ) from None
    click.echo(f"Enqueued {name} on queue {message.queue_name} (message {message.message_id}).")
