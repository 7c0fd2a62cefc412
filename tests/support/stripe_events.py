"""Stripe events for tests: builders in Stripe's wire format, signed with the real scheme.

``sign`` produces a ``Stripe-Signature`` header (HMAC-SHA256 of ``"{t}.{payload}"``);
``post`` sends an event to the webhook endpoint of a Flask test client; the worker
helpers run and drain only the queues the webhook pipeline uses, so tests never wait on
jobs of other areas (the confirmation email stays queued).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Iterator
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker

PRIMARY_SECRET = "whsec_test_primary"
ROTATED_SECRET = "whsec_test_rotated"
PIPELINE_QUEUES = ("webhooks",)


def sign(payload: bytes, secret: str = PRIMARY_SECRET, *, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header Stripe would send for ``payload``."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()


def post(client, event: dict[str, Any] | bytes, *, secret: str = PRIMARY_SECRET, **sign_options):
    """POST ``event`` to ``/webhooks/stripe`` with a valid signature."""
    payload = event if isinstance(event, bytes) else encode(event)
    return client.post(
        "/webhooks/stripe",
        data=payload,
        headers={"Stripe-Signature": sign(payload, secret, **sign_options)},
        content_type="application/json",
    )


def event(
    event_type: str, obj: dict[str, Any], *, event_id: str | None = None, created: int | None = None
) -> dict[str, Any]:
    """A Stripe event envelope around ``obj``."""
    return {
        "id": event_id or "evt_" + secrets.token_hex(12),
        "object": "event",
        "api_version": "2024-06-20",
        "created": int(time.time()) if created is None else created,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
        "data": {"object": obj},
    }


def intent(order, *, status: str, amount: int | None = None, **extra: Any) -> dict[str, Any]:
    """The PaymentIntent of ``order`` (``metadata.order_id`` set, as checkout does)."""
    amount = order.total_cents if amount is None else amount
    return {
        "id": order.payment_intent_id or "pi_" + secrets.token_hex(12),
        "object": "payment_intent",
        "amount": amount,
        "amount_received": amount if status == "succeeded" else 0,
        "currency": order.currency,
        "status": status,
        "metadata": {"order_id": str(order.id)},
        "livemode": False,
        **extra,
    }


def payment_succeeded(order, **options: Any) -> dict[str, Any]:
    return event("payment_intent.succeeded", intent(order, status="succeeded"), **options)


def payment_failed(order, **options: Any) -> dict[str, Any]:
    obj = intent(
        order,
        status="requires_payment_method",
        last_payment_error={"code": "card_declined", "message": "Your card was declined."},
    )
    return event("payment_intent.payment_failed", obj, **options)


def payment_canceled(order, *, reason: str = "abandoned", **options: Any) -> dict[str, Any]:
    obj = intent(order, status="canceled", cancellation_reason=reason)
    return event("payment_intent.canceled", obj, **options)


def charge_refunded(order, *, amount_refunded: int | None = None, **options: Any):
    refunded = order.total_cents if amount_refunded is None else amount_refunded
    obj = {
        "id": "ch_" + secrets.token_hex(12),
        "object": "charge",
        "amount": order.total_cents,
        "amount_refunded": refunded,
        "refunded": refunded >= order.total_cents,
        "currency": order.currency,
        "payment_intent": order.payment_intent_id,
        "metadata": {},
    }
    return event("charge.refunded", obj, **options)


def refund_updated(
    order, *, amount: int, status: str = "succeeded", refund_id: str | None = None, **options
):
    obj = {
        "id": refund_id or "re_" + secrets.token_hex(12),
        "object": "refund",
        "amount": amount,
        "currency": order.currency,
        "payment_intent": order.payment_intent_id,
        "status": status,
        "metadata": {},
    }
    return event("refund.updated", obj, **options)


# --- Workers for the pipeline's queues ------------------------------------------------------


@contextlib.contextmanager
def pipeline_worker(broker: RedisBroker, *, threads: int = 4) -> Iterator[dramatiq.Worker]:
    """A real worker consuming only the webhook pipeline's queues."""
    worker = dramatiq.Worker(
        broker, queues=set(PIPELINE_QUEUES), worker_threads=threads, worker_timeout=50
    )
    worker.start()
    try:
        yield worker
    finally:
        worker.stop(timeout=10_000)


def drain_pipeline(broker: RedisBroker, worker: dramatiq.Worker, *, timeout: float = 30) -> None:
    """Wait until the pipeline's queues (delayed retries included) are empty and acked."""
    deadline = time.monotonic() + timeout
    quiet = 0
    while quiet < 3:
        if time.monotonic() > deadline:
            raise TimeoutError("the webhook queues did not drain in time")
        busy = any(broker.do_qsize(queue) for queue in PIPELINE_QUEUES)
        quiet = 0 if busy else quiet + 1
        time.sleep(0.05)
    worker.join()


# --- A hook for worker subprocesses (``dramatiq worker.app tests.support.stripe_events``) ----

HOLD_KEY_ENV = "CARTFLEET_TEST_HOLD_KEY"


def _install_hold_once() -> None:
    """First delivery of any event applies its effect, then hangs before committing.

    Enabled only when ``CARTFLEET_TEST_HOLD_KEY`` is set, for the SIGKILL test: the key
    (a Redis list) records ``started`` on each delivery.
    """
    key = os.environ.get(HOLD_KEY_ENV)
    if not key:
        return
    from jobs import stripe_handlers
    from worker.broker import broker

    original = stripe_handlers.apply_event

    def apply_then_hold(session, stripe_event):
        outcome = original(session, stripe_event)
        if broker.client.rpush(key, "started") == 1:
            time.sleep(600)
        return outcome

    stripe_handlers.apply_event = apply_then_hold


_install_hold_once()


# --- An order in checkout, as issue #3's checkout leaves it -------------------------------


def checkout(
    session,
    *,
    lines: dict[str, int] | None = None,
    stock: dict[str, int] | None = None,
    reserve: bool = True,
):
    """Products, a cart in ``checkout`` holding ``lines``, its order and its reservations.

    ``stock`` is on-hand units per sku in warehouse ``main`` (default 10 each).
    """
    import datetime as dt

    from models.base import utcnow
    from models.carts.tables import Cart, CartItem
    from models.stock import reservations
    from tests.support import factories

    lines = lines or {"SKU-A": 2}
    for sku in sorted(lines):
        factories.product(session, sku, stock={"main": (stock or {}).get(sku, 10)})
    cart = Cart(
        id="cart_" + secrets.token_hex(8),
        status="checkout",
        currency="usd",
        email="buyer@example.com",
        expires_at=utcnow() + dt.timedelta(days=30),
    )
    session.add(cart)
    session.flush()
    for sku, quantity in sorted(lines.items()):
        session.add(CartItem(cart_id=cart.id, sku=sku, quantity=quantity, unit_price_cents=1000))
    order = factories.order(session, lines=lines, payment_intent_id="pi_" + secrets.token_hex(12))
    order.cart_id = cart.id
    cart.order_id = order.id
    if reserve:
        reserved = reservations.reserve(
            session,
            order_id=order.id,
            quantities=lines,
            expires_at=utcnow() + dt.timedelta(minutes=15),
        )
        assert not reserved.shortfalls, reserved.shortfalls
    session.flush()
    return order
