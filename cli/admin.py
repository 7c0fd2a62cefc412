"""``cartfleet admin``: staff accounts from the command line (the first owner, above all)."""

from __future__ import annotations

import sys

import click

from models.db import Session
from models.errors import EmailTaken
from models.staff import Role, create_user
from worker import bootstrap

MIN_PASSWORD = 12


@click.group()
def admin() -> None:
    """Staff accounts of the admin."""


def _password(from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@admin.command("create-user")
@click.argument("email")
@click.option(
    "--role", type=click.Choice([role.value for role in Role]), default="viewer", show_default=True
)
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin's first line.")
def create_user_command(email: str, role: str, password_stdin: bool) -> None:
    """Create a staff user; the password is prompted for (or read from stdin)."""
    password = _password(password_stdin)
    if len(password) < MIN_PASSWORD:
        raise click.ClickException(f"The password needs at least {MIN_PASSWORD} characters.")
    bootstrap.start(actors=False)
    try:
        with Session.begin() as session:
            user = create_user(session, email=email, password=password, role=Role(role))
            user_id = user.id
    except EmailTaken as error:
        raise click.ClickException(error.message) from None
    click.echo(f"Created {role} {email} (id {user_id}).")
