"""``cartfleet pay``: pay an order with a test card, without a browser."""

from __future__ import annotations

import logging
import uuid

import click
import stripe as stripe_lib
from sqlalchemy import select

from models.db import Session
from models.orders.status import OrderStatus
from models.orders.tables import Order
from services import stripe
from worker import bootstrap

# Stripe's test payment methods that decline, by the decline they give.
DECLINES = {
    "generic_decline": "pm_card_chargeDeclined",
    "insufficient_funds": "pm_card_chargeDeclinedInsufficientFunds",
    "expired_card": "pm_card_chargeDeclinedExpiredCard",
    "incorrect_cvc": "pm_card_chargeDeclinedIncorrectCvc",
}
PAYABLE = (OrderStatus.PENDING_PAYMENT, OrderStatus.PAYMENT_FAILED)
TEST_KEY_PREFIXES = ("sk_test_", "rk_test_")


def _order(session, reference: str) -> Order | None:
    try:
        return session.get(Order, uuid.UUID(reference))
    except ValueError:
        return session.scalar(select(Order).where(Order.order_number == reference))


@click.command()
@click.argument("order_number")
@click.option(
    "--card", default="4242424242424242", show_default=True, help="Test card number to pay with."
)
@click.option(
    "--decline",
    type=click.Choice(sorted(DECLINES)),
    help="Pay with Stripe's test card that is declined this way (instead of --card).",
)
def pay(order_number: str, card: str, decline: str | None) -> None:
    """Confirm ORDER_NUMBER's PaymentIntent (order number or id) on the configured Stripe.

    Test keys only. The order turns paid when Stripe's webhook reaches the web process.
    """
    settings = bootstrap.start(actors=False)
    logging.getLogger("stripe").setLevel(logging.WARNING)  # its request lines bury the outcome
    if not settings.stripe_api_key.startswith(TEST_KEY_PREFIXES):
        raise click.ClickException("cartfleet pay takes test payments only (STRIPE_API_KEY).")
    with Session() as session:
        order = _order(session, order_number)
        if order is None:
            raise click.ClickException(f"no order {order_number}")
        if order.status not in PAYABLE or not order.payment_intent_id:
            raise click.ClickException(f"order {order.order_number} is {order.status}: not payable")
        number, intent_id = order.order_number, order.payment_intent_id
    try:
        if decline:
            intent = stripe.confirm_payment_intent(intent_id, payment_method=DECLINES[decline])
        else:
            intent = stripe.confirm_payment_intent(intent_id, card_number=card)
    except stripe_lib.CardError as error:
        reason = (error.error.decline_code if error.error else None) or error.code
        raise click.ClickException(
            f"{number}: card declined ({reason}): {error.user_message} ({intent_id})"
        ) from None
    except stripe_lib.StripeError as error:
        raise click.ClickException(f"{number}: Stripe refused: {error.user_message}") from None
    if intent.status == "requires_action":
        raise click.ClickException(
            f"{number}: the card needs 3D Secure ({intent_id}); pay with another --card"
        )
    amount = f"{intent.amount / 100:.2f} {intent.currency.upper()}"
    click.echo(f"{number}: payment {intent.status}, {amount} ({intent_id}).")
