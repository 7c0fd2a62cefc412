"""``cartfleet dlq``: dead letters from the archive (list, requeue, purge)."""

from __future__ import annotations

import json

import click

from flows import dead_letters as letters_flow
from worker import bootstrap, dead_letters


def _filters(function):
    function = click.option("--actor", help="Only messages for this actor.")(function)
    return click.option("--queue", help="Only this queue (e.g. webhooks).")(function)


def _selected(message_ids: tuple[str, ...], queue: str | None, actor: str | None):
    """The waiting letters named (all matching the filters when none is named)."""
    bootstrap.start()
    selection = letters_flow.select(message_ids, queue=queue, actor=actor)
    for message_id in selection.missing:
        click.echo(f"not found: {message_id}", err=True)
    return selection.letters


@click.group()
def dlq() -> None:
    """Dead letters: messages whose retries ran out (archived in PostgreSQL)."""


@dlq.command("list")
@_filters
@click.option("--limit", type=click.IntRange(min=1), help="Show at most this many.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
def list_letters(queue: str | None, actor: str | None, limit: int | None, as_json: bool) -> None:
    """List dead letters, oldest first, with their final error."""
    bootstrap.start()
    letters = dead_letters.list_dead_letters(queue=queue, actor=actor, limit=limit)
    if as_json:
        click.echo(json.dumps([letter.to_dict() for letter in letters], indent=2))
        return
    for letter in letters:
        click.echo(
            f"{letter.message_id}  {letter.queue:<12} {letter.actor:<24} "
            f"{letter.failed_at:%Y-%m-%d %H:%M:%S}  retries={letter.retries}  "
            f"args={json.dumps(letter.args)}  {letter.error}"
        )
    click.echo(f"{len(letters)} dead letter(s)", err=True)


@dlq.command()
@click.argument("message_ids", nargs=-1)
@_filters
def requeue(message_ids: tuple[str, ...], queue: str | None, actor: str | None) -> None:
    """Put dead letters back on their queues with retries reset (all, or the ones named)."""
    letters = _selected(message_ids, queue, actor)
    done = letters_flow.requeue([letter.message_id for letter in letters])
    click.echo(f"requeued {len(done)} message(s)")


@dlq.command()
@click.argument("message_ids", nargs=-1)
@_filters
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def purge(message_ids: tuple[str, ...], queue: str | None, actor: str | None, yes: bool) -> None:
    """Delete dead letters for good (all, or the ones named); the archive keeps the mark."""
    letters = _selected(message_ids, queue, actor)
    if letters and not yes:
        click.confirm(f"Delete {len(letters)} dead letter(s) for good?", abort=True)
    done = letters_flow.purge([letter.message_id for letter in letters])
    click.echo(f"purged {len(done)} message(s)")
