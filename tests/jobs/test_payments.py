"""Canceling the PaymentIntent of an order whose reservation expired, against local Stripe."""

from __future__ import annotations

import datetime as dt

import pytest
import stripe

from jobs import orders
from jobs.payments import cancel_payment_intent
from models.base import utcnow
from models.carts.tables import Cart
from models.db import Session
from models.orders.tables import Order
from models.stock import reservations
from services.stripe import stripe_client
from tests.support import factories
from tests.support.stripe_sandbox import payment_intent


@pytest.fixture
def intent(stripe_sandbox):
    return stripe_client().v1.payment_intents.create(
        params={"amount": 2000, "currency": "usd", "metadata": {"order_id": "x"}}
    )


def order_with(intent_id: str, *, status: str) -> str:
    with Session.begin() as session:
        factories.product(session, "SKU-1")
        order = factories.order(
            session, status=status, lines={"SKU-1": 1}, payment_intent_id=intent_id
        )
        return str(order.id)


def cancel_requests(stripe_sandbox) -> list[str]:
    paths = [request["path"] for request in stripe_sandbox.control.requests()]
    return [path for path in paths if path.endswith("/cancel")]


def test_cancels_the_intent_of_a_canceled_order_once(stripe_sandbox, intent):
    order_id = order_with(intent.id, status="canceled")

    cancel_payment_intent(order_id)
    cancel_payment_intent(order_id)  # a redelivery: Stripe answers from its idempotency cache

    assert payment_intent(intent.id)["status"] == "canceled"
    assert payment_intent(intent.id)["cancellation_reason"] == "abandoned"


@pytest.mark.parametrize("status", ["pending_payment", "paid"])
def test_leaves_the_intent_of_an_order_that_is_not_canceled(stripe_sandbox, intent, status):
    order_id = order_with(intent.id, status=status)

    cancel_payment_intent(order_id)

    assert cancel_requests(stripe_sandbox) == []
    assert payment_intent(intent.id)["status"] == "requires_payment_method"


def test_an_intent_that_already_succeeded_is_left_alone_with_an_alert(intent, caplog):
    stripe_client().v1.payment_intents.confirm(intent.id, {"payment_method": "pm_card_visa"})
    order_id = order_with(intent.id, status="canceled")

    cancel_payment_intent(order_id)

    assert payment_intent(intent.id)["status"] == "succeeded"
    assert any("Payment succeeded for an order canceled" in r.getMessage() for r in caplog.records)


def test_an_already_canceled_intent_is_fine(stripe_sandbox, intent):
    stripe_client().v1.payment_intents.cancel(intent.id)
    order_id = order_with(intent.id, status="canceled")

    cancel_payment_intent(order_id)

    assert payment_intent(intent.id)["status"] == "canceled"


def test_a_stripe_outage_raises_so_the_job_is_retried(stripe_sandbox, intent):
    order_id = order_with(intent.id, status="canceled")
    stripe_sandbox.control.fail_next_requests(10)

    with pytest.raises(stripe.StripeError):
        cancel_payment_intent(order_id)

    stripe_sandbox.control.fail_next_requests(0)
    cancel_payment_intent(order_id)
    assert payment_intent(intent.id)["status"] == "canceled"


def test_cancel_job_is_bounded_and_retried():
    assert cancel_payment_intent.options["max_retries"] > 0
    assert cancel_payment_intent.options["time_limit"] == 60_000


def test_expired_checkout_end_to_end_cancels_order_intent_and_reactivates_cart(
    stripe_sandbox, intent, drain_queues
):
    with Session.begin() as session:
        factories.product(session, "SKU-1")
        order = factories.order(session, lines={"SKU-1": 1}, payment_intent_id=intent.id)
        cart = factories.cart_row(session, lines={"SKU-1": 1}, status="checkout", order_id=order.id)
        order.cart_id = cart.id
        reservations.reserve(
            session,
            order_id=order.id,
            quantities={"SKU-1": 1},
            expires_at=utcnow() - dt.timedelta(seconds=1),
        )

    orders.release_expired_reservations.send()
    drain_queues()
    orders.release_expired_reservations.send()  # the next minute's run: nothing left
    drain_queues()

    with Session() as session:
        assert session.get(Order, order.id).status == "canceled"
        reactivated = session.get(Cart, cart.id)
        assert (reactivated.status, reactivated.is_active, reactivated.order_id) == (
            "active",
            True,
            order.id,
        )
    assert payment_intent(intent.id)["status"] == "canceled"
    assert len(cancel_requests(stripe_sandbox)) == 1
