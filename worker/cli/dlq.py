"""``cartfleet dlq``: Dramatiq's Redis dead-letter queues (list, requeue, purge)."""

from __future__ import annotations

import json

import click

from worker import bootstrap, dead_letters


def _letters(message_ids: tuple[str, ...], queue: str | None, actor: str | None):
    bootstrap.start()

    letters = dead_letters.list_dead_letters(queue=queue, actor=actor)
    if message_ids:
        wanted = set(message_ids)
        letters = [x for x in letters if x.message_id in wanted or x.redis_id in wanted]
        missing = wanted - {x.message_id for x in letters} - {x.redis_id for x in letters}
        for message_id in sorted(missing):
            click.echo(f"not found: {message_id}", err=True)
    return letters


def _filters(function):
    function = click.option("--actor", help="Only messages for this actor.")(function)
    return click.option("--queue", help="Only this queue (e.g. webhooks).")(function)


@click.group()
def dlq() -> None:
    """Dead-letter queues: messages whose retries ran out."""


@dlq.command("list")
@_filters
@click.option("--limit", type=click.IntRange(min=1), help="Show at most this many.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
def list_letters(queue: str | None, actor: str | None, limit: int | None, as_json: bool) -> None:
    """List dead letters, oldest first."""
    letters = _letters((), queue, actor)
    letters = letters[:limit] if limit else letters
    for letter in letters:
        if as_json:
            click.echo(json.dumps(letter.to_dict()))
        else:
            args = json.dumps(list(letter.message.args))
            click.echo(
                f"{letter.message_id}  {letter.queue:<12} {letter.message.actor_name:<24} "
                f"{letter.failed_at:%Y-%m-%d %H:%M:%S}  args={args}  {letter.error or ''}"
            )
    if not as_json:
        click.echo(f"{len(letters)} dead letter(s)", err=True)


@dlq.command()
@click.argument("message_ids", nargs=-1)
@_filters
def requeue(message_ids: tuple[str, ...], queue: str | None, actor: str | None) -> None:
    """Put dead letters back on their queues with retries reset (all, or the ones named)."""

    letters = _letters(message_ids, queue, actor)
    click.echo(f"requeued {dead_letters.requeue_all(letters)} message(s)")


@dlq.command()
@click.argument("message_ids", nargs=-1)
@_filters
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def purge(message_ids: tuple[str, ...], queue: str | None, actor: str | None, yes: bool) -> None:
    """Delete dead letters for good (all, or the ones named)."""

    letters = _letters(message_ids, queue, actor)
    if letters and not yes:
        click.confirm(f"Delete {len(letters)} dead letter(s) for good?", abort=True)
    click.echo(f"purged {dead_letters.purge_all(letters)} message(s)")
