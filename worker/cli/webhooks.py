"""``cartfleet webhooks``."""

from __future__ import annotations

import click


@click.group()
def webhooks() -> None:
    """Webhooks commands."""
