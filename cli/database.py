"""``cartfleet migrate`` and ``cartfleet seed-demo``."""

from __future__ import annotations

import click

from models.carts.tables import DiscountCode
from models.catalog import Product, upsert_product
from models.db import Session
from models.warehouses import edits
from models.warehouses.tables import Warehouse
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

# Warehouses beside ``main`` (which the migrations create) that the catalogue stocks.
DEMO_WAREHOUSES = {"east": {"name": "East coast", "country": "US", "postal_code": "10001"}}

# Single-use percent codes, as the store's own are (a code is spent by the order it paid).
DEMO_DISCOUNT_CODES = {"WELCOME10": 10, "SPRING15": 15, "FRIENDS20": 20}


@click.command()
@click.argument("revision", default="head")
def migrate(revision: str) -> None:
    """Apply the migrations up to REVISION (default: head)."""
    from alembic import command

    from migrations import alembic_config

    bootstrap.start(actors=False)  # logging, as every command has
    command.upgrade(alembic_config(), revision)


@click.command("seed-demo")
def seed_demo() -> None:
    """Add the demo catalogue and discount codes that are missing.

    What exists is left as it is: stock sold in an earlier run stays sold, a spent code
    stays spent.
    """
    bootstrap.start(actors=False)
    with Session.begin() as session:
        for code, fields in DEMO_WAREHOUSES.items():
            if session.get(Warehouse, code) is None:
                edits.create(session, code=code, **fields)
        products = [
            upsert_product(session, sku=sku, name=name, price_cents=price_cents, stock=stock)
            for sku, name, price_cents, stock in DEMO_CATALOGUE
            if session.get(Product, sku) is None
        ]
        codes = [code for code in DEMO_DISCOUNT_CODES if session.get(DiscountCode, code) is None]
        session.add_all(DiscountCode(code=c, percent=DEMO_DISCOUNT_CODES[c]) for c in codes)
    click.echo(
        f"Seeded {len(products)} demo products and {len(codes)} discount codes"
        f" ({len(DEMO_CATALOGUE) - len(products)} products already there)."
    )
