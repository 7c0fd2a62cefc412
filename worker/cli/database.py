"""``cartfleet migrate`` and ``cartfleet seed-demo``."""

from __future__ import annotations

from pathlib import Path

import click

from models.catalog import upsert_product
from models.db import Session
from worker import bootstrap

DEMO_CATALOGUE = [
    ("TEE-BLK-M", "Black tee, M", 2500, {"main": 40, "east": 10}),
    ("TEE-WHT-M", "White tee, M", 2500, {"main": 25}),
    ("HOODIE-GRY-L", "Grey hoodie, L", 6400, {"main": 12}),
    ("MUG-LOGO", "Logo mug", 1400, {"main": 80}),
    ("CAP-NAVY", "Navy cap", 2200, {"main": 5}),
    ("SOCKS-3PK", "Socks, three pairs", 1800, {"main": 60, "east": 30}),
    ("TOTE-CANVAS", "Canvas tote", 1600, {"main": 3}),
    ("STICKER-SET", "Sticker set", 600, {"main": 200}),
]

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"


@click.command()
@click.argument("revision", default="head")
def migrate(revision: str) -> None:
    """Apply the migrations up to REVISION (default: head)."""
    from alembic import command
    from alembic.config import Config

    command.upgrade(Config(str(ALEMBIC_INI)), revision)


@click.command("seed-demo")
def seed_demo() -> None:
    """Upsert a small demo catalogue with stock (safe to run again)."""
    bootstrap.start(actors=False)
    with Session.begin() as session:
        for sku, name, price_cents, stock in DEMO_CATALOGUE:
            upsert_product(session, sku=sku, name=name, price_cents=price_cents, stock=stock)
    click.echo(f"Seeded {len(DEMO_CATALOGUE)} demo products.")
