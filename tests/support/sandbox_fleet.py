"""The fleet against the Stripe sandbox: orders whose PaymentIntents live in the sandbox.

``fleet_sandbox`` points ``services.stripe`` (settings and client) at a fresh
``SandboxServer``; ``place_order`` makes an order in checkout with its stock reserved and
a real PaymentIntent there, as checkout leaves it; ``pay`` is the buyer confirming it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Iterator

import stripe as stripe_python
from sqlalchemy import update

from devtools.stripe_sandbox import SandboxServer
from models.base import utcnow
from models.db import Session
from models.orders.tables import Order
from models.stock.tables import Reservation
from services import stripe
from services.settings import get_settings
from tests.support import stripe_events


@contextlib.contextmanager
def fleet_sandbox(monkeypatch, **options) -> Iterator[SandboxServer]:
    server = SandboxServer(retry_base_s=0.05, **options).start()
    monkeypatch.setenv("STRIPE_API_BASE", server.url)
    get_settings.cache_clear()
    stripe.stripe_client.cache_clear()
    try:
        yield server
    finally:
        server.stop()
        monkeypatch.delenv("STRIPE_API_BASE")
        get_settings.cache_clear()
        stripe.stripe_client.cache_clear()


def place_order(
    sku: str, *, hold: dt.timedelta = dt.timedelta(minutes=15)
) -> tuple[uuid.UUID, str]:
    """An order for one ``sku`` (10 on hand), held for ``hold``, with its PaymentIntent."""
    with Session.begin() as session:
        order = stripe_events.checkout(session, lines={sku: 1})
        order_id, number, cart_id = order.id, order.order_number, order.cart_id
        amount, currency = order.total_cents, order.currency
    intent = stripe.create_payment_intent(
        order_id=str(order_id),
        order_number=number,
        cart_id=cart_id,
        amount=amount,
        currency=currency,
    )
    with Session.begin() as session:
        order = session.get(Order, order_id)
        order.payment_intent_id = intent.id
        order.reservation_expires_at = utcnow() + hold
        session.execute(
            update(Reservation)
            .where(Reservation.order_id == order_id)
            .values(expires_at=order.reservation_expires_at)
        )
    return order_id, intent.id


def pay(intent_id: str, payment_method: str = "pm_card_visa") -> str:
    """The buyer confirms the PaymentIntent; returns its status (a decline is not raised)."""
    try:
        intent = stripe.stripe_client().v1.payment_intents.confirm(
            intent_id, {"payment_method": payment_method}
        )
    except stripe_python.CardError:
        return "requires_payment_method"
    return intent.status


def status(order_id: uuid.UUID) -> str:
    with Session() as session:
        return session.get(Order, order_id).status
