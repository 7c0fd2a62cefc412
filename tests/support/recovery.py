"""Helpers of the recovery tests: carts on a test clock, running the job, delivering."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from jobs.recovery import deliver, recovery_batches
from models.base import utcnow
from models.carts.tables import Cart
from models.db import Session
from models.recovery.tables import RecoveryStep
from tests.support import factories

HOUR = dt.timedelta(hours=1)
ADDRESS = {"name": "Ada", "line1": "1 Main St", "city": "C", "postal_code": "1", "country": "US"}


def products(prices: dict[str, int] | None = None) -> None:
    with Session.begin() as session:
        for sku, price in (prices or {"SKU-1": 1500, "SKU-2": 700}).items():
            factories.product(session, sku, price_cents=price, stock={"main": 50})


def idle_cart(
    *,
    since: dt.datetime,
    email: str | None = "ada@example.com",
    consent: bool = True,
    items: dict[str, int] | None = None,
) -> str:
    """An active cart with ``items``, last written at ``since``."""
    with Session.begin() as session:
        cart = factories.cart(session, items=items or {"SKU-1": 2, "SKU-2": 1}, email=email)
        cart.last_activity_at = since
        cart.marketing_consent_at = since if consent else None
        return cart.id


def run_job(now: dt.datetime, **options) -> list[tuple[str, str]]:
    """One recovery run at ``now``; returns the (cart, step) sends it enqueued."""
    return [send for batch in recovery_batches(now=now, **options) for send in batch.to_send]


def run_and_deliver(now: dt.datetime) -> list[tuple[str, str]]:
    """One run at ``now`` and the send of each step it claimed; returns what was sent."""
    return [send for send in run_job(now) if deliver(*send, now=now)]


def steps(cart_id: str) -> dict[str, tuple[str, str | None]]:
    """{step: (status, reason)} of the cart."""
    with Session() as session:
        rows = session.scalars(select(RecoveryStep).where(RecoveryStep.cart_id == cart_id))
        return {row.step: (row.status, row.reason) for row in rows}


def cart_status(cart_id: str) -> str:
    with Session() as session:
        return session.get(Cart, cart_id).status


def start_clock() -> dt.datetime:
    """The test clock's zero: now, to the second (codes expire against the real clock)."""
    return utcnow().replace(microsecond=0)
