"""Checkout: turn an active cart into a pending order with its stock reserved.

No stock row stays locked while Stripe is called (the caller talks to Stripe between
these steps, each its own transaction):

0. ``fail_fast_if_short``: no transaction; answers buyers who lost a race from committed
   stock in one read, without locking anything.
1. ``start``: lock the cart, re-price, create the order and its items, move the cart to
   ``checkout``, route and reserve every line (stock rows locked in (sku, warehouse)
   order, last, so they are held only for the reservation and the commit) and record
   one shipment per warehouse routing chose.
2. ``attach_payment_intent``: store the PaymentIntent once Stripe answered.
3. ``abort`` (Stripe failed): cancel the order and ``release_checkout``: the reservation,
   the discount code and the cart go back, exactly as when a payment is canceled.

The cart row lock makes concurrent posts for one cart safe: the second waits, then sees
the cart in checkout and gets the same order back.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from models.base import utcnow
from models.carts import discounts, lifecycle
from models.carts.reads import StockPolicy, read_view
from models.carts.tables import WRITABLE_STATUSES, Cart, CartItem, CartStatus
from models.catalog import Product
from models.errors import (
    AmountOutOfRange,
    CartNotActive,
    EmptyCart,
    ItemsOutOfStock,
    NotFound,
    PriceChangeNeedsAcknowledgment,
)
from models.orders import fulfilment
from models.orders.status import OrderStatus, transition
from models.orders.tables import Order, OrderItem
from models.orders.timeline import OrderEvent, add_event
from models.recovery import schedule
from models.stock import reservations
from models.stock.availability import Shortfall
from models.warehouses import geo

# What one order may charge: Stripe's limits for a card payment in the store's currencies
# (USD: $0.50 to $999,999.99). Beyond them checkout is refused before anything is
# written, so no amount ever overflows a column or reaches Stripe to be refused there.
MIN_CHARGE_CENTS = 50
MAX_CHARGE_CENTS = 99_999_999


@dataclass(frozen=True)
class Checkout:
    order: Order
    cart: Cart
    created: bool

    @property
    def price_changes(self) -> list[dict[str, Any]]:
        changes: list[dict[str, Any]] = self.order.meta.get("price_changes", [])
        return changes

    @property
    def reservation_expires_at(self) -> dt.datetime | None:
        return self.order.reservation_expires_at


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
    # Before any lock: placing a postal code may load the postal-code data (seconds, once).
    country = shipping_address.get("country")
    place = geo.locate(country, shipping_address.get("postal_code"))
    cart = lifecycle.lock(session, cart_id)
    if cart is None:
        raise NotFound("No such cart.")
    if cart.status == CartStatus.CHECKOUT and cart.order_id is not None:
        return Checkout(session.get_one(Order, cart.order_id), cart, created=False)
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
    changes: list[dict[str, Any]] = [
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
    discount = discounts.claim(session, cart, email=email)

    now = utcnow()
    expires_at = now + dt.timedelta(minutes=reservation_minutes)
    subtotal = sum(item.quantity * product.price_cents for item, product in rows)
    off = discounts.discount_amount(subtotal, discount.percent if discount else None)
    _require_chargeable(subtotal - off)
    order = Order(
        id=uuid.uuid4(),
        cart_id=cart.id,
        email=email,
        status=OrderStatus.PENDING_PAYMENT,
        currency=cart.currency,
        subtotal_cents=subtotal,
        discount_cents=off,
        total_cents=subtotal - off,
        shipping_address=dict(shipping_address),
        discount_code=discount.code if discount else None,
        reservation_expires_at=expires_at,
        meta={"price_changes": changes},
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
    for item, product in rows:
        if item.unit_price_cents != product.price_cents:
            item.unit_price_cents, item.version = product.price_cents, item.version + 1
    cart.status, cart.order_id = CartStatus.CHECKOUT, order.id
    cart.email = cart.email or email
    lifecycle.touch(cart)
    # With the order, in its transaction: no reminder claimed for this cart goes out now.
    schedule.cancel_pending(session, cart_id=cart.id, now=now)
    session.flush()

    # Last, so the stock rows stay locked only for the reservation and the commit.
    reserved = reservations.reserve(
        session,
        order_id=order.id,
        quantities=quantities,
        expires_at=expires_at,
        country=country,
        place=place,
    )
    _raise_if_short(reserved.shortfalls)
    if reserved.allocation is None:
        # ``reserve`` leaves the allocation out only when some line falls short.
        raise AssertionError(f"order {order.id} reserved without an allocation")
    fulfilment.record_shipments(session, order=order, allocation=reserved.allocation)
    return Checkout(order, cart, created=True)


def fail_fast_if_short(cart_id: str, *, acknowledge_price_changes: bool, timeout_ms: int) -> None:
    """Raise ``ItemsOutOfStock`` when committed stock already cannot cover the cart.

    One statement on the stock reader, outside any transaction, so buyers who lost a race
    are answered without locking their cart, creating an order or queueing on the stock
    rows. It stays silent whenever ``start`` would answer something else first (cart not
    checkout-able, empty, a price rise to acknowledge) or stock could not be read; it can
    only be more lenient than the locked reservation, which remains the authority.
    """
    try:
        view = read_view(cart_id, policy=StockPolicy(timeout_ms=timeout_ms))
    except NotFound:
        return
    if view.status not in WRITABLE_STATUSES or not view.lines:
        return
    lines = view.lines
    if any(line.available is None for line in lines):
        return
    if not acknowledge_price_changes and any(
        line.current_price_cents > line.unit_price_cents for line in lines
    ):
        return
    _raise_if_short(
        [
            Shortfall(line.sku, line.quantity, line.available)
            for line in sorted(lines, key=lambda line: line.sku)
            if line.available is not None and line.available < line.quantity
        ]
    )


def _require_chargeable(total_cents: int) -> None:
    if not MIN_CHARGE_CENTS <= total_cents <= MAX_CHARGE_CENTS:
        raise AmountOutOfRange(
            f"An order must total between {MIN_CHARGE_CENTS} and {MAX_CHARGE_CENTS} cents "
            f"to be paid by card; this one totals {total_cents}.",
            total_cents=total_cents,
            minimum_cents=MIN_CHARGE_CENTS,
            maximum_cents=MAX_CHARGE_CENTS,
        )


def _raise_if_short(shortfalls: list[Shortfall]) -> None:
    if shortfalls:
        raise ItemsOutOfStock(
            "Not enough stock for some items.",
            items=[
                {"sku": s.sku, "requested": s.requested, "available": s.available}
                for s in shortfalls
            ],
        )


def attach_payment_intent(
    session: Session, *, order_id: uuid.UUID, payment_intent_id: str, client_secret: str | None
) -> Order:
    """Store the order's PaymentIntent (the same one on a repeat: Stripe's idempotency).

    Two statements, no unit of work: an ``UPDATE ... RETURNING`` that only an order
    without a PaymentIntent matches, then its timeline line. A repeat finds the order
    already holding one and returns it as stored.
    """
    stored = session.scalars(
        update(Order)
        .where(Order.id == order_id, Order.payment_intent_id.is_(None))
        .values(payment_intent_id=payment_intent_id, client_secret=client_secret)
        .returning(Order),
        execution_options={"synchronize_session": False, "populate_existing": True},
    ).one_or_none()
    if stored is None:
        return session.get_one(Order, order_id, populate_existing=True)
    session.execute(
        insert(OrderEvent).values(
            order_id=order_id,
            kind="payment_intent_created",
            data={"payment_intent_id": payment_intent_id},
        )
    )
    return stored


def abort(session: Session, *, order_id: uuid.UUID, reason: str) -> Cart | None:
    """Undo ``start`` after the payment provider failed; returns the reactivated cart.

    Cancels the order (kept for the audit trail) and releases its checkout. Does nothing
    to an order that already has a PaymentIntent or left ``pending_payment``.
    """
    order = session.get(Order, order_id, with_for_update=True, populate_existing=True)
    if order is None or order.status != OrderStatus.PENDING_PAYMENT or order.payment_intent_id:
        return None
    transition(session, order, OrderStatus.CANCELED, kind="checkout_failed", reason=reason)
    # No PaymentIntent exists, so no payment for this order can ever arrive.
    cart = release_checkout(session, order=order, reason="checkout_failed", detach_cart=True)
    session.flush()
    return cart


def release_checkout(
    session: Session, *, order: Order, reason: str, detach_cart: bool = False
) -> Cart | None:
    """Give back what checkout took for an order that will not be paid now.

    The stock it holds, the discount code it claimed and the buyer's cart: the one path
    for a failed checkout, a canceled payment and an expired hold. Returns the cart when
    it went back to ``active`` (``detach_cart``: see ``lifecycle.return_to_active``).
    """
    released = reservations.release(session, order_id=order.id)
    if released:
        add_event(session, order, "reservations_released", count=released, reason=reason)
    if discounts.release(session, order.discount_code):
        add_event(session, order, "discount_code_released", code=order.discount_code)
    cart = lifecycle.lock(session, order.cart_id) if order.cart_id else None
    if cart is None or cart.status != CartStatus.CHECKOUT or cart.order_id != order.id:
        return None
    lifecycle.return_to_active(cart, detach=detach_cart)
    lifecycle.touch(cart)
    add_event(session, order, "cart_reactivated", cart_id=cart.id)
    return cart
