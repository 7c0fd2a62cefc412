"""Checkout (API.md "Checkout"): reserve and create the order, then the PaymentIntent.

No transaction is open while Stripe is called: the order and its reservation are
committed first (``models.orders.checkout.start``), then Stripe is asked, then the
PaymentIntent is stored, or, when Stripe fails, the checkout is undone (``abort``).
"""

from __future__ import annotations

import logging
from typing import Any

import stripe

from flows.cart_events import record_event
from models.base import utcnow
from models.db import Session
from models.errors import PaymentProviderError
from models.orders import checkout
from models.recovery import consent
from services.settings import get_settings
from services.stripe import create_payment_intent

logger = logging.getLogger(__name__)


def checkout_cart(
    cart_id: str,
    *,
    email: str,
    shipping_address: dict[str, Any],
    acknowledge_price_changes: bool,
    marketing_consent: bool | None,
) -> checkout.Checkout:
    """The cart's order awaiting payment, with its PaymentIntent (``created`` if new).

    A second call for a cart already in checkout returns the same order. Raises the
    domain's errors (price changed, out of stock, empty cart, ...) with nothing reserved,
    and ``PaymentProviderError`` once the checkout is undone when Stripe fails.
    """
    settings = get_settings()
    checkout.fail_fast_if_short(
        cart_id,
        acknowledge_price_changes=acknowledge_price_changes,
        timeout_ms=settings.stock_query_timeout_ms,
    )
    with Session.begin() as session:
        result = checkout.start(
            session,
            cart_id=cart_id,
            email=email,
            shipping_address=shipping_address,
            acknowledge_price_changes=acknowledge_price_changes,
            reservation_minutes=settings.reservation_minutes,
        )
        if marketing_consent is not None:
            consent.record_consent_by_id(
                session, cart_id=cart_id, consent=marketing_consent, now=utcnow()
            )

    order = result.order
    if order.payment_intent_id is not None:
        return result
    try:
        intent = create_payment_intent(
            order_id=str(order.id),
            order_number=order.order_number,
            cart_id=order.cart_id,
            amount=order.total_cents,
            currency=order.currency,
        )
    except stripe.StripeError as error:
        logger.warning("PaymentIntent for order %s failed: %s", order.id, error)
        # A repeat call leaves the undo to the call that created the order.
        if result.created:
            with Session.begin() as session:
                cart = checkout.abort(session, order_id=order.id, reason=str(error))
                if cart is not None:
                    record_event(session, cart, "checkout_failed")
        raise PaymentProviderError(
            "The payment provider could not be reached; please try again."
        ) from None
    with Session.begin() as session:
        order = checkout.attach_payment_intent(
            session,
            order_id=order.id,
            payment_intent_id=intent.id,
            client_secret=intent.client_secret,
        )
    return checkout.Checkout(order, created=result.created)
