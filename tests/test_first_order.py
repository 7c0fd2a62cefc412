"""A first order end to end, on the real pieces: the web on a loopback port, the Stripe
sandbox delivering its signed webhooks to it, a Dramatiq worker, the maildir.

checkout (JSON API) → ``cartfleet pay`` (confirms at the sandbox) → the sandbox's
webhook → the inbox → ``process_stripe_event`` → order ``paid`` → one confirmation email.
"""

from __future__ import annotations

import mailbox
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from cli import main as cli
from devtools.stripe_sandbox import SandboxControl
from models.db import Session
from models.emails import Email
from models.inbox import WebhookEvent
from models.stock import availability
from services.settings import get_settings
from services.stripe import stripe_client
from tests.support import factories
from tests.support.stripe_events import PRIMARY_SECRET
from tests.support.stripe_sandbox import payment_intent

ADDRESS = {
    "name": "Ada Lovelace",
    "line1": "1 Main St",
    "city": "Springfield",
    "postal_code": "12345",
    "country": "US",
}


@dataclass
class Fleet:
    url: str
    stripe: SandboxControl
    mail_dir: Path
    drain_queues: object

    def checkout(self, sku: str = "MUG", quantity: int = 2) -> dict:
        """A cart with ``quantity`` of ``sku`` checked out through the JSON API."""
        cart = requests.post(f"{self.url}/api/carts", json={"email": "ada@example.com"}).json()
        added = requests.post(
            f"{self.url}/api/carts/{cart['id']}/items", json={"sku": sku, "quantity": quantity}
        )
        assert added.status_code == 200, added.text
        response = requests.post(
            f"{self.url}/api/carts/{cart['id']}/checkout",
            json={"email": "ada@example.com", "shipping_address": ADDRESS},
        )
        assert response.status_code == 201, response.text
        return response.json()

    def order(self, order_id: str) -> dict:
        return requests.get(f"{self.url}/api/orders/{order_id}").json()

    def settle(self) -> None:
        """Wait until the sandbox delivered every webhook and the workers ran every job."""
        self.stripe.wait_for_deliveries(timeout=20)
        self.drain_queues()

    def wait_for_status(self, order_id: str, status: str, timeout: float = 20) -> dict:
        deadline = time.monotonic() + timeout
        while (order := self.order(order_id))["status"] != status:
            assert time.monotonic() < deadline, f"order still {order['status']}"
            time.sleep(0.05)
        self.settle()
        return self.order(order_id)

    def emails(self) -> list[mailbox.MaildirMessage]:
        return list(mailbox.Maildir(self.mail_dir)) if self.mail_dir.exists() else []


def pay(order_number: str, *options: str) -> Result:
    return CliRunner().invoke(cli, ["pay", order_number, *options])


@pytest.fixture
def fleet(live_server, stripe_sandbox, drain_queues, tmp_path) -> Fleet:
    with Session.begin() as session:
        factories.product(session, "MUG", stock={"main": 5})
    stripe_sandbox.control.add_webhook(f"{live_server}/webhooks/stripe", PRIMARY_SECRET)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MAIL_DIR", str(tmp_path / "mail"))
        get_settings.cache_clear()
        yield Fleet(live_server, stripe_sandbox.control, tmp_path / "mail", drain_queues)
    get_settings.cache_clear()


def inbox_events(event_type: str) -> int:
    with Session() as session:
        return session.scalar(
            select(func.count()).select_from(WebhookEvent).where(WebhookEvent.type == event_type)
        )


def sent_confirmations() -> int:
    with Session() as session:
        return session.scalar(
            select(func.count())
            .select_from(Email)
            .where(Email.kind == "order_confirmation", Email.status == "sent")
        )


def assert_one_confirmation(fleet: Fleet, order_number: str) -> None:
    [message] = fleet.emails()
    assert order_number in message["Subject"] and message["To"].endswith("<ada@example.com>")
    assert sent_confirmations() == 1


def test_checkout_pay_webhook_paid_and_one_confirmation_email(fleet):
    checkout = fleet.checkout()

    result = pay(checkout["order_number"])

    assert result.exit_code == 0, result.output
    total = f"{checkout['total_cents'] / 100:.2f} USD"
    assert f"{checkout['order_number']}: payment succeeded, {total}" in result.output
    order = fleet.wait_for_status(checkout["order_id"], "paid")
    assert order["paid_at"] is not None
    assert inbox_events("payment_intent.succeeded") == 1
    assert_one_confirmation(fleet, checkout["order_number"])


def test_a_declined_card_then_a_good_one(fleet):
    checkout = fleet.checkout()

    declined = pay(checkout["order_number"], "--decline", "insufficient_funds")
    fleet.wait_for_status(checkout["order_id"], "payment_failed")

    assert declined.exit_code == 1
    assert "card declined (insufficient_funds)" in declined.output
    assert fleet.emails() == []

    paid = pay(checkout["order_number"], "--card", "4242424242424242")

    assert paid.exit_code == 0, paid.output
    fleet.wait_for_status(checkout["order_id"], "paid")
    assert_one_confirmation(fleet, checkout["order_number"])


def test_an_intent_canceled_at_stripe_cancels_the_order_and_it_cannot_be_paid(fleet):
    checkout = fleet.checkout(quantity=5)

    stripe_client().v1.payment_intents.cancel(
        checkout["payment_intent_id"], {"cancellation_reason": "requested_by_customer"}
    )
    fleet.wait_for_status(checkout["order_id"], "canceled")

    with Session() as session:
        assert availability.available_units(session, ["MUG"]) == {"MUG": 5}
    refused = pay(checkout["order_number"])
    assert refused.exit_code == 1
    assert f"order {checkout['order_number']} is canceled: not payable" in refused.output
    assert payment_intent(checkout["payment_intent_id"]).status == "canceled"
    assert fleet.emails() == [] and sent_confirmations() == 0


def test_duplicated_and_reordered_deliveries_have_one_effect_and_one_email(fleet):
    fleet.stripe.set_switches(duplicate=True, reorder=True)
    checkout = fleet.checkout()

    pay(checkout["order_number"], "--decline", "generic_decline")
    paid = pay(checkout["order_number"])

    assert paid.exit_code == 0, paid.output
    fleet.wait_for_status(checkout["order_id"], "paid")
    deliveries = fleet.stripe.deliveries()
    succeeded = [d for d in deliveries if d["type"] == "payment_intent.succeeded"]
    assert len(succeeded) == 1 and len(succeeded[0]["attempts"]) == 2  # sent twice
    assert inbox_events("payment_intent.succeeded") == 1
    assert inbox_events("payment_intent.payment_failed") == 1
    assert fleet.order(checkout["order_id"])["status"] == "paid"  # the late failure lost
    assert_one_confirmation(fleet, checkout["order_number"])
