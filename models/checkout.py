"""Checkout: turn an active cart into a pending order with its stock reserved.

The flow has three short transactions so no stock row stays locked while Stripe is
called (the caller talks to Stripe between them):

1. ``start``: lock the cart, re-price, create the order and its items, move the cart to
   ``checkout`` and reserve every line (stock rows locked in sku order, last, so they
   are held only for the reservation and the commit).
2. ``attach_payment_intent``: store the PaymentIntent once Stripe answered.
3. ``abort`` (Stripe failed): release the reservation, cancel the order, reactivate the cart.

The cart row lock makes concurrent posts for one cart safe: the second waits, then sees
the cart in checkout and gets the same order back.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import catalog, inventory
from models.base import utcnow
from models.carts import (
    WRITABLE_STATUSES,
    Cart,
    CartError,
    CartItem,
    CartNotActive,
    DiscountCode,
    NotFound,
    discount_amount,
    touch,
    usable_code,
)
from models.catalog import Product
from models.orders import Order, OrderEvent, OrderItem


class EmptyCart(CartError):
    code = "empty_cart"


class PriceChangeNeedsAcknowledgment(CartError):
    code = "price_changed_acknowledgment_required"


class ItemsOutOfStock(CartError):
    code = "out_of_stock"


@dataclass(frozen=True)
class Checkout:
    order: Order
    cart: Cart
    created: bool

    @property
    def price_changes(self) -> list[dict[str, Any]]:
        return self.order.meta.get("price_changes", [])

    @property
    def reservation_expires_at(self) -> dt.datetime | None:
        value = self.order.meta.get("reservation_expires_at")
        return dt.datetime.fromisoformat(value) if value else None


def start(
    session: Session,
    *,
    cart_id: str,
    email: str,
    shipping_address: Mapping[str, Any],
    acknowledge_price_changes: bool,
    reservation_minutes: int,
) -> Checkout:
    """Create the order and reserve its stock, or return the order the cart already has.

    Raises ``EmptyCart``, ``PriceChangeNeedsAcknowledgment`` (a price rose and was not
    acknowledged), ``InvalidCode`` or ``ItemsOutOfStock``; the caller rolls back, so
    nothing is reserved then.
    """
    cart = session.get(Cart, cart_id, with_for_update=True, populate_existing=True)
    if cart is None:
        raise NotFound("No such cart.")
    if cart.status == "checkout" and cart.order_id is not None:
        return Checkout(session.get(Order, cart.order_id), cart, created=False)
    if cart.status not in WRITABLE_STATUSES:
        raise CartNotActive(f"The cart is {cart.status} and cannot be checked out.")

    rows = session.execute(
        select(CartItem, Product)
        .join(Product, Product.sku == CartItem.sku)
        .where(CartItem.cart_id == cart.id)
        .order_by(CartItem.sku)
    ).all()
    if not rows:
        raise EmptyCart("The cart is empty.")
    changes = [
        {
            "sku": item.sku,
            "old_price_cents": item.unit_price_cents,
            "new_price_cents": product.price_cents,
        }
        for item, product in rows
        if item.unit_price_cents != product.price_cents
    ]
    if not acknowledge_price_changes and any(
        c["new_price_cents"] > c["old_price_cents"] for c in changes
    ):
        raise PriceChangeNeedsAcknowledgment(
            "Prices rose since these items were added; confirm with acknowledge_price_changes.",
            changes=changes,
        )
    quantities = {item.sku: item.quantity for item, _ in rows}
    # Fail fast, without creating an order or queueing on the stock row locks, when the
    # committed stock is already short; the locked reservation below stays the authority.
    available = catalog.available_units(session.connection(), quantities)
    _raise_if_short(
        [
            inventory.Shortfall(sku, wanted, available[sku])
            for sku, wanted in sorted(quantities.items())
            if available[sku] < wanted
        ]
    )
    discount = _claim_discount(session, cart)

    now = utcnow()
    expires_at = now + dt.timedelta(minutes=reservation_minutes)
    subtotal = sum(item.quantity * product.price_cents for item, product in rows)
    off = discount_amount(subtotal, discount.percent if discount else None)
    order = Order(
        id=uuid.uuid4(),
        cart_id=cart.id,
        email=email,
        status="pending_payment",
        currency=cart.currency,
        subtotal_cents=subtotal,
        discount_cents=off,
        total_cents=subtotal - off,
        shipping_address=dict(shipping_address),
        meta={
            "price_changes": changes,
            "reservation_expires_at": expires_at.isoformat(),
            "discount_code": discount.code if discount else None,
        },
        items=[
            OrderItem(
                sku=item.sku,
                name=product.name,
                quantity=item.quantity,
                unit_price_cents=product.price_cents,
            )
            for item, product in rows
        ],
        events=[OrderEvent(kind="created", data={"cart_id": cart.id, "price_changes": changes})],
    )
    session.add(order)
    # The order row must exist before the cart points at it (the two reference each other).
    session.flush()
    if discount is not None:
        discount.used_at = now
    for item, product in rows:
        if item.unit_price_cents != product.price_cents:
            item.unit_price_cents, item.version = product.price_cents, item.version + 1
    cart.status, cart.is_active, cart.order_id = "checkout", False, order.id
    cart.email = cart.email or email
    touch(cart)
    session.flush()

    # Last, so the stock rows stay locked only for the reservation and the commit.
    _raise_if_short(
        inventory.reserve(session, order_id=order.id, quantities=quantities, expires_at=expires_at)
    )
    return Checkout(order, cart, created=True)


def _raise_if_short(shortfalls: list[inventory.Shortfall]) -> None:
    if shortfalls:
        raise ItemsOutOfStock(
            "Not enough stock for some items.",
            items=[
                {"sku": s.sku, "requested": s.requested, "available": s.available}
                for s in shortfalls
            ],
        )


def _claim_discount(session: Session, cart: Cart) -> DiscountCode | None:
    """Lock and mark the cart's discount code used; ``InvalidCode`` if no longer usable."""
    if cart.discount_code is None:
        return None
    return usable_code(session, cart.discount_code, cart=cart, lock=True)


def attach_payment_intent(
    session: Session, *, order_id: uuid.UUID, payment_intent_id: str, client_secret: str
) -> Order:
    """Store the order's PaymentIntent (the same one on a repeat: Stripe's idempotency)."""
    order = session.get(Order, order_id, with_for_update=True, populate_existing=True)
    if order.payment_intent_id is None:
        order.payment_intent_id, order.client_secret = payment_intent_id, client_secret
        session.add(
            OrderEvent(
                order_id=order.id,
                kind="payment_intent_created",
                data={"payment_intent_id": payment_intent_id},
            )
        )
        session.flush()
    return order


def abort(session: Session, *, order_id: uuid.UUID, reason: str) -> Cart | None:
    """Undo ``start`` after the payment provider failed; returns the reactivated cart.

    Releases the reservation, cancels the order (kept for the audit trail), frees the
    discount code and puts the cart back to ``active``. Does nothing to an order that
    already has a PaymentIntent or left ``pending_payment``.
    """
    order = session.get(Order, order_id, with_for_update=True, populate_existing=True)
    if order is None or order.status != "pending_payment" or order.payment_intent_id:
        return None
    cart = (
        session.get(Cart, order.cart_id, with_for_update=True, populate_existing=True)
        if order.cart_id
        else None
    )
    inventory.release(session, order_id=order.id)
    order.status = "canceled"
    session.add(OrderEvent(order_id=order.id, kind="checkout_failed", data={"reason": reason}))
    code = order.meta.get("discount_code")
    if code:
        discount = session.get(DiscountCode, code, with_for_update=True)
        if discount is not None:
            discount.used_at = None
    if cart is not None and cart.order_id == order.id:
        cart.status, cart.is_active, cart.order_id = "active", True, None
        touch(cart)
    session.flush()
    return cart
