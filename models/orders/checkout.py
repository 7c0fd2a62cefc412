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

from sqlalchemy import Row
from sqlalchemy.orm import Session

from models import db
from models.base import utcnow
from models.carts import discounts, lifecycle
from models.carts.lifecycle import STATEMENT_VERSIONS_KEY
from models.carts.reads import StockPolicy, read_view
from models.carts.tables import CART_TTL, WRITABLE_STATUSES, Cart, CartStatus, DiscountCode
from models.errors import (
    AmountOutOfRange,
    CartNotActive,
    EmptyCart,
    ItemsOutOfStock,
    NotFound,
    PriceChangeNeedsAcknowledgment,
)
from models.orders import checkout_statements as statements
from models.orders import fulfilment
from models.orders.status import OrderStatus, transition
from models.orders.tables import Order
from models.orders.timeline import add_event
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
class PlacedOrder:
    """What checkout answers about its order (API.md "Checkout"), read without the ORM."""

    id: uuid.UUID
    order_number: str
    cart_id: str | None
    status: str
    currency: str
    total_cents: int
    discount_cents: int
    discount_code: str | None
    payment_intent_id: str | None
    client_secret: str | None
    reservation_expires_at: dt.datetime | None
    price_changes: list[dict[str, Any]]

    @classmethod
    def from_row(cls, row: Row[*tuple[Any, ...]]) -> PlacedOrder:
        """From a row of ``statements.PLACED_COLUMNS``."""
        fields = row._asdict()
        meta = fields.pop("metadata")
        return cls(**fields, price_changes=meta.get("price_changes", []))


@dataclass(frozen=True)
class Checkout:
    order: PlacedOrder
    created: bool

    @property
    def price_changes(self) -> list[dict[str, Any]]:
        return self.order.price_changes

    @property
    def reservation_expires_at(self) -> dt.datetime | None:
        return self.order.reservation_expires_at


def placed_order(session: Session, order_id: uuid.UUID) -> PlacedOrder:
    """The order as checkout answers it."""
    row = session.connection().execute(statements.PLACED, {"order_id": order_id}).one()
    return PlacedOrder.from_row(row)


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

    The cart moves to ``checkout`` with a new version and its ``checkout_started`` event.
    Raises ``EmptyCart``, ``PriceChangeNeedsAcknowledgment`` (a price rose and was not
    acknowledged), ``InvalidCode`` or ``ItemsOutOfStock``; the caller rolls back, so
    nothing is reserved then.
    """
    # Before any lock: placing a postal code may load the postal-code data (seconds, once).
    country = shipping_address.get("country")
    place = geo.locate(country, shipping_address.get("postal_code"))
    connection = session.connection()
    cart = connection.execute(statements.LOCK_CART, {"cart_id": cart_id}).one_or_none()
    if cart is None:
        raise NotFound("No such cart.")
    if cart.status == CartStatus.CHECKOUT and cart.order_id is not None:
        return Checkout(placed_order(session, cart.order_id), created=False)
    if cart.status not in WRITABLE_STATUSES:
        raise CartNotActive(f"The cart is {cart.status} and cannot be checked out.")

    lines = connection.execute(statements.LINES, {"cart_id": cart_id}).all()
    if not lines:
        raise EmptyCart("The cart is empty.")
    changes: list[dict[str, Any]] = [
        {
            "sku": line.sku,
            "old_price_cents": line.unit_price_cents,
            "new_price_cents": line.price_cents,
        }
        for line in lines
        if line.unit_price_cents != line.price_cents
    ]
    if not acknowledge_price_changes and any(
        c["new_price_cents"] > c["old_price_cents"] for c in changes
    ):
        raise PriceChangeNeedsAcknowledgment(
            "Prices rose since these items were added; confirm with acknowledge_price_changes.",
            changes=changes,
        )
    discount = _claim_discount(session, cart_id, cart.discount_code, email=email)

    now = utcnow()
    expires_at = now + dt.timedelta(minutes=reservation_minutes)
    subtotal = sum(line.quantity * line.price_cents for line in lines)
    off = discounts.discount_amount(subtotal, discount.percent if discount else None)
    _require_chargeable(subtotal - off)
    order_id = uuid.uuid4()
    order_number = connection.execute(
        statements.CREATE_ORDER,
        {
            "order_id": order_id,
            "cart_id": cart_id,
            "email": email,
            "currency": cart.currency,
            "subtotal_cents": subtotal,
            "discount_cents": off,
            "total_cents": subtotal - off,
            "shipping_address": dict(shipping_address),
            "discount_code": discount.code if discount else None,
            "expires_at": expires_at,
            "meta": {"price_changes": changes},
            "skus": [line.sku for line in lines],
            "names": [line.name for line in lines],
            "quantities": [line.quantity for line in lines],
            "prices": [line.price_cents for line in lines],
            "created_data": {"cart_id": cart_id, "price_changes": changes},
        },
    ).scalar_one()
    if changes:
        connection.execute(
            statements.REPRICE_ITEM,
            [
                {"item_cart_id": cart_id, "item_sku": c["sku"], "new_price": c["new_price_cents"]}
                for c in changes
            ],
        )
    _check_out_cart(session, cart_id, cart, order_id=order_id, email=email, now=now)
    # With the order, in its transaction: no reminder claimed for this cart goes out now.
    schedule.cancel_pending(session, cart_id=cart_id, now=now)

    # Last, so the stock rows stay locked only for the reservation and the commit.
    reserved = reservations.reserve(
        session,
        order_id=order_id,
        quantities={line.sku: line.quantity for line in lines},
        expires_at=expires_at,
        country=country,
        place=place,
    )
    _raise_if_short(reserved.shortfalls)
    if reserved.allocation is None:
        # ``reserve`` leaves the allocation out only when some line falls short.
        raise AssertionError(f"order {order_id} reserved without an allocation")
    fulfilment.record_shipments(session, order_id=order_id, allocation=reserved.allocation)
    placed = PlacedOrder(
        id=order_id,
        order_number=order_number,
        cart_id=cart_id,
        status=OrderStatus.PENDING_PAYMENT,
        currency=cart.currency,
        total_cents=subtotal - off,
        discount_cents=off,
        discount_code=discount.code if discount else None,
        payment_intent_id=None,
        client_secret=None,
        reservation_expires_at=expires_at,
        price_changes=changes,
    )
    return Checkout(placed, created=True)


def _claim_discount(
    session: Session, cart_id: str, code: str | None, *, email: str
) -> DiscountCode | None:
    """Claim the cart's code, if it has one (the cart row is already locked)."""
    if code is None:
        return None
    return discounts.claim(session, session.get_one(Cart, cart_id), email=email)


def _check_out_cart(
    session: Session,
    cart_id: str,
    cart: Row[*tuple[Any, ...]],
    *,
    order_id: uuid.UUID,
    email: str,
    now: dt.datetime,
) -> None:
    """Move the locked ``cart`` row to ``checkout``: a write, as ``lifecycle.touch`` counts."""
    version = cart.version + 1
    session.connection().execute(
        statements.CHECK_OUT_CART,
        {
            "cart_id": cart_id,
            "order_id": order_id,
            "email": cart.email or email,
            "version": version,
            "now": now,
            "expires_at": now + CART_TTL,
            "event_at": now,
            "source_id": f"{cart_id}:{version}",
        },
    )
    # A Cart the discount claim loaded is stale now; the live-cart hint goes out on commit.
    db.expire_loaded(session, Cart, [cart_id])
    session.info.setdefault(STATEMENT_VERSIONS_KEY, {})[cart_id] = version


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
) -> PlacedOrder:
    """Store the order's PaymentIntent (the same one on a repeat: Stripe's idempotency).

    One statement: an ``UPDATE ... RETURNING`` that only an order without a
    PaymentIntent matches, with its timeline line. A repeat finds the order already
    holding one and returns it as stored. An ``Order`` the session holds is expired.
    """
    db.flush_if_pending(session, Order)
    stored = (
        session.connection()
        .execute(
            statements.ATTACH,
            {
                "order_id": order_id,
                "payment_intent_id": payment_intent_id,
                "client_secret": client_secret,
                "line_data": {"payment_intent_id": payment_intent_id},
            },
        )
        .one_or_none()
    )
    if stored is None:
        return placed_order(session, order_id)
    db.expire_loaded(session, Order, [order_id])
    return PlacedOrder.from_row(stored)


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
