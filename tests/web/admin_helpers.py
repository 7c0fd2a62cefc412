"""Staff users, logins and CSRF tokens for the admin's HTTP and browser tests."""

from __future__ import annotations

import contextlib
import os
import re
import time
import uuid
from collections.abc import Iterator

import dramatiq

from devtools.stripe_sandbox import SandboxServer
from models.base import utcnow
from models.catalog import Product
from models.db import Session
from models.orders import stock_confirmation as confirmations
from models.orders.tables import Order
from models.staff import Role, create_user
from models.stock import reservations
from models.stock.tables import StockLevel
from services.settings import get_settings
from services.stripe import stripe_client
from tests.support import factories

PASSWORD = "correct horse battery staple"
WEBHOOK_SECRET = "whsec_test_primary"  # the first of tests/conftest.py's secrets
BOOTSTRAP = {"Authorization": "Bearer test-admin-token"}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_user(email: str = "ops@example.com", role: str = Role.OPERATOR, **fields) -> int:
    with Session.begin() as session:
        user = create_user(session, email=email, password=PASSWORD, role=Role(role))
        for name, value in fields.items():
            setattr(user, name, value)
        return user.id


def csrf_token(client) -> str:
    """The CSRF token of the client's session, as the login form carries it."""
    page = client.get("/admin/login").get_data(as_text=True)
    return _CSRF.search(page).group(1)


def log_in(client, email: str = "ops@example.com", password: str = PASSWORD):
    return client.post(
        "/admin/login",
        data={"email": email, "password": password, "csrf_token": csrf_token(client)},
    )


def logged_in(client, role: str = Role.OPERATOR, email: str | None = None) -> str:
    """Log ``client`` in as a new user of ``role``; returns the CSRF token to send."""
    email = email or f"{role}@example.com"
    make_user(email, role)
    assert log_in(client, email).status_code == 303
    return csrf_token(client)


def wait_until(check, timeout: float = 20.0, interval: float = 0.05):
    """``check()``'s first truthy value within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"not within {timeout} s")


@contextlib.contextmanager
def fleet_sandbox(live_server: str) -> Iterator[SandboxServer]:
    """The Stripe sandbox as the fleet's Stripe, delivering webhooks to ``live_server``."""
    webhook = (f"{live_server}/webhooks/stripe", WEBHOOK_SECRET)
    with SandboxServer(retry_base_s=0.05, webhooks=[webhook]) as sandbox:
        os.environ["STRIPE_API_BASE"] = sandbox.url
        get_settings.cache_clear()
        stripe_client.cache_clear()
        try:
            yield sandbox
        finally:
            os.environ.pop("STRIPE_API_BASE", None)
            get_settings.cache_clear()
            stripe_client.cache_clear()


def paid_order(sandbox: SandboxServer, *, lines: dict[str, int] | None = None, **fields) -> str:
    """An order paid at the sandbox with a test card; its webhook makes it ``paid``."""
    with Session.begin() as session:
        for sku in lines or {"TEE-1": 2}:
            factories.product(session, sku)
        order = factories.order(session, lines=lines or {"TEE-1": 2}, **fields)
        order_id, total = str(order.id), order.total_cents
    # Created, stored, then confirmed, as checkout and the buyer do: a webhook that beat
    # the stored id would be refused as a mismatch and the order would never be paid.
    client = stripe_client()
    intent = client.v1.payment_intents.create(
        params={"amount": total, "currency": "usd", "metadata": {"order_id": order_id}}
    )
    with Session.begin() as session:
        session.get(Order, uuid.UUID(order_id)).payment_intent_id = intent.id
    client.v1.payment_intents.confirm(intent.id, params={"payment_method": "pm_card_visa"})
    wait_until(lambda: order_status(order_id) == "paid")
    return order_id


def order_status(order_id: str) -> str:
    with Session() as session:
        return session.get(Order, uuid.UUID(order_id)).status


def failed_confirmation(*, quantity: int = 2, on_hand: int = 1) -> str:
    """A paid order whose reservation could not be confirmed, as the payment leaves it."""
    with Session.begin() as session:
        if session.get(Product, "SKU-9") is None:
            factories.product(session, "SKU-9", stock={"main": 50})
        order = factories.order(session, status="paid", lines={"SKU-9": quantity})
        reservations.reserve(
            session, order_id=order.id, quantities={"SKU-9": quantity}, expires_at=utcnow()
        )
        session.get(StockLevel, ("SKU-9", "main")).on_hand = on_hand
        confirmations.confirm_reservations(session, order=order)
        return str(order.id)


def dead_letter(broker, *, queue: str, actor: str, args: tuple, traceback: str) -> str:
    """A message dead on ``queue`` as the broker leaves it in Redis; returns its id."""
    message = dramatiq.Message(
        queue_name=queue,
        actor_name=actor,
        args=args,
        kwargs={},
        options={"retries": 3, "traceback": traceback},
    )
    redis_id = str(uuid.uuid4())
    broker.client.zadd(f"dramatiq:{queue}.XQ", {redis_id: int(time.time() * 1000)})
    broker.client.hset(f"dramatiq:{queue}.XQ.msgs", redis_id, message.encode())
    return message.message_id
