"""The ``cartfleet`` command: migrations, demo data and operations.

The development commands (``dev``, ``pay``, ``stripe-sandbox``) live in the ``devtools``
package, which a production install leaves out; there they answer with a one-line hint.
"""

from __future__ import annotations

import click

from cli import (
    admin,
    check_deploy,
    database,
    dlq,
    jobs,
    mail,
    orders,
    queues,
    scheduler,
    sentry,
    webhooks,
)
from services.settings import ConfigurationError

DEVELOPMENT_COMMANDS = ("dev", "pay", "stripe-sandbox")


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


def _development_commands() -> list[click.Command]:
    try:
        from devtools.commands import COMMANDS
    except ModuleNotFoundError:  # a production install: no devtools, nor their deps
        return [_not_installed(name) for name in DEVELOPMENT_COMMANDS]
    return list(COMMANDS)


def _not_installed(name: str) -> click.Command:
    def hint() -> None:
        raise click.ClickException(
            f"`cartfleet {name}` is a development tool: install the `dev` extra "
            "(`make run` does) to use it"
        )

    return click.Command(
        name,
        callback=hint,
        help="(development tools not installed)",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )


for _command in (
    admin.admin,
    database.migrate,
    database.seed_demo,
    webhooks.webhooks,
    orders.orders,
    dlq.dlq,
    queues.queues,
    jobs.jobs,
    scheduler.scheduler,
    mail.mail,
    sentry.sentry,
    check_deploy.check_deploy,
    *_development_commands(),
):
    main.add_command(_command)
