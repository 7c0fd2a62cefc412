"""The ``cartfleet`` command: development, migrations, demo data and operations."""

from __future__ import annotations

import click

from worker.cli import database, dev, dlq, jobs, mail, scheduler, webhooks


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Operate a cartfleet deployment."""


for _command in (
    dev.dev,
    database.migrate,
    database.seed_demo,
    webhooks.webhooks,
    dlq.dlq,
    jobs.jobs,
    scheduler.scheduler,
    mail.mail,
):
    main.add_command(_command)
