"""Checkout route (API.md "Checkout"): reserve, create the order, then the PaymentIntent.

No transaction is open while Stripe is called: the order and its reservation are
committed first (``models.orders.checkout.start``), then Stripe is asked, then the
PaymentIntent is stored, or, when Stripe fails, the checkout is undone (``abort``).
"""

from __future__ import annotations

import logging
from typing import Annotated

import stripe
from flask import Blueprint, jsonify
from pydantic import EmailStr, StrictBool, StringConstraints

from models.base import utcnow
from models.db import Session
from models.orders import checkout
from models.recovery import consent
from services.settings import get_settings
from services.stripe import create_payment_intent
from web.carts import record_event
from web.errors import APIError
from web.serializers import checkout_json
from web.validation import Schema, parse_body

logger = logging.getLogger(__name__)

bp = Blueprint("checkout", __name__)


Line = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Country = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2}$", to_upper=True)]


class ShippingAddress(Schema):
    name: Line
    line1: Line
    line2: Annotated[str, StringConstraints(max_length=200)] | None = None
    city: Line
    postal_code: Annotated[str, StringConstraints(min_length=1, max_length=20)]
    country: Country


class CheckoutBody(Schema):
    email: EmailStr
    shipping_address: ShippingAddress
    acknowledge_price_changes: StrictBool = False
    marketing_consent: StrictBool | None = None


@bp.post("/api/carts/<cart_id>/checkout")
def checkout_cart(cart_id: str):
    body = parse_body(CheckoutBody)
    settings = get_settings()
    checkout.fail_fast_if_short(
        cart_id,
        acknowledge_price_changes=body.acknowledge_price_changes,
        timeout_ms=settings.stock_query_timeout_ms,
    )
    with Session.begin() as session:
        result = checkout.start(
            session,
            cart_id=cart_id,
            email=body.email,
            shipping_address=body.shipping_address.model_dump(),
            acknowledge_price_changes=body.acknowledge_price_changes,
            reservation_minutes=settings.reservation_minutes,
        )
        if result.created:
            record_event(session, result.cart, "checkout_started")
        if body.marketing_consent is not None:
            consent.record_consent(
                session, cart=result.cart, consent=body.marketing_consent, now=utcnow()
            )

    order = result.order
    if order.payment_intent_id is None:
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
            # A repeat post leaves the undo to the request that created the order.
            if result.created:
                with Session.begin() as session:
                    cart = checkout.abort(session, order_id=order.id, reason=str(error))
                    if cart is not None:
                        record_event(session, cart, "checkout_failed")
            raise APIError(
                502,
                "payment_provider_error",
                "The payment provider could not be reached; please try again.",
            ) from None
        with Session.begin() as session:
            order = checkout.attach_payment_intent(
                session,
                order_id=order.id,
                payment_intent_id=intent.id,
                client_secret=intent.client_secret,
            )
        result = checkout.Checkout(order, result.cart, created=result.created)
    return jsonify(checkout_json(result)), 201 if result.created else 200
