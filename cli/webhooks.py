"""``cartfleet webhooks``: replay stored events, backfill from Stripe, the inbox's health."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re

import click

from models import inbox
from models.db import Session
from models.inbox_queries import EventFilter
from worker import bootstrap

STATUSES = ("dead", "failed", "received")
_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_since(value: str) -> dt.datetime:
    """``30m`` / ``2h`` / ``7d`` ago, or an ISO 8601 date or time (UTC if no offset)."""
    if match := _DURATION.match(value.strip()):
        amount, unit = match.groups()
        return dt.datetime.now(dt.UTC) - dt.timedelta(**{_UNITS[unit]: int(amount)})
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(
            "use 30m, 2h, 7d or an ISO 8601 time", param_hint="--since"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


@click.group()
def webhooks() -> None:
    """The Stripe webhook inbox."""


@webhooks.command()
@click.option(
    "--status",
    "statuses",
    type=click.Choice(STATUSES),
    multiple=True,
    help="Rows in this status (repeatable) [default: dead].",
)
@click.option("--since", help="Received at or after: 30m, 2h, 7d or an ISO 8601 time.")
@click.option("--id", "event_ids", multiple=True, help="This event id (repeatable).")
@click.option("--limit", type=click.IntRange(min=1), default=10_000, show_default=True)
def replay(
    statuses: tuple[str, ...], since: str | None, event_ids: tuple[str, ...], limit: int
) -> None:
    """Hand stored events to the processor again (applied at most once, as always)."""
    bootstrap.start()
    from flows import webhook_replay  # imports the actors: after start-up, which binds them

    since_at = parse_since(since) if since else None
    with Session.begin() as session:
        if event_ids:
            ids = webhook_replay.replay(session, ids=event_ids)
        else:
            ids = [
                event_id
                for status in statuses or ("dead",)
                for event_id in webhook_replay.replay_matching(
                    session, where=EventFilter(status=status, since=since_at), limit=limit
                )
            ]
    for event_id in ids:
        click.echo(event_id)
    click.echo(f"replayed {len(ids)} event(s)", err=True)


@webhooks.command()
@click.option("--hours", type=click.IntRange(min=1), default=24, show_default=True)
def health(hours: int) -> None:
    """Counts by status, failure rate, lag and oldest unprocessed age, as JSON."""
    bootstrap.start()

    with Session() as session:
        report = inbox.health(session, window=dt.timedelta(hours=hours))
    click.echo(json.dumps(report, indent=2))


@webhooks.command()
@click.option(
    "--since", help="List from here (30m, 2h, 3d or ISO 8601) instead of the stored cursor."
)
def backfill(since: str | None) -> None:
    """Store the Stripe events the webhook never delivered, now; prints what it did as JSON."""
    bootstrap.start()
    from jobs import backfill as stripe_backfill
    from services.stripe import StripeError

    start = parse_since(since) if since else None
    try:
        report = stripe_backfill.run(since=start)
    except StripeError as error:
        raise click.ClickException(f"Stripe's events could not be listed: {error}") from None
    click.echo(json.dumps(dataclasses.asdict(report), indent=2))
