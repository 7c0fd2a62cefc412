"""``cartfleet dlq``."""

from __future__ import annotations

import click


@click.group()
def dlq() -> None:
    """Dlq commands."""
