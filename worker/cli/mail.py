"""``cartfleet mail``."""

from __future__ import annotations

import click


@click.group()
def mail() -> None:
    """Mail commands."""
