"""``cartfleet jobs``."""

from __future__ import annotations

import click


@click.group()
def jobs() -> None:
    """Jobs commands."""
