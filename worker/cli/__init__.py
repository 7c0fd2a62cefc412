"""The ``cartfleet`` command: development, migrations, demo data and operations."""

from __future__ import annotations

import click

from worker.cli import (
    admin,
    check_deploy,
    database,
    dev,
    dlq,
    jobs,
    mail,
    orders,
    pay,
    queues,
    scheduler,
    stripe_sandbox,
    webhooks,
)
from worker.settings import ConfigurationError


class _Cartfleet(click.Group):
    """Reports a missing or malformed setting as one line instead of a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ConfigurationError as error:
            raise click.ClickException(str(error)) from None


@click.group(cls=_Cartfleet, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Operate a cartfleet deployment."""


for _command in (
    admin.admin,
    check_deploy.check_deploy,
    dev.dev,
    database.migrate,
    database.seed_demo,
    webhooks.webhooks,
    orders.orders,
    dlq.dlq,
    queues.queues,
    jobs.jobs,
    scheduler.scheduler,
    mail.mail,
    pay.pay,
    stripe_sandbox.stripe_sandbox,
):
    main.add_command(_command)
