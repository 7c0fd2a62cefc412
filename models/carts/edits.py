"""Changing a cart: create it, add, set or remove items, apply or remove a discount.

Each change locks the cart row (``lifecycle.lock_for_write``: version and status
checked), checks stock for what it adds, bumps the version (``lifecycle.touch``) and
returns the cart as ``reads.view`` reads it inside the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from models.base import utcnow
from models.carts.discounts import usable_code
from models.carts.lifecycle import lock_for_write, touch
from models.carts.reads import CartView, StockPolicy, view
from models.carts.tables import CART_TTL, MAX_QUANTITY, Cart, CartItem, CartStatus, new_cart_id
from models.catalog import Product
from models.db import affected_rows
from models.errors import InvalidItem, NotFound, OutOfStock, StockUnavailable
from models.stock import reader


def create_cart(session: Session, *, email: str | None = None, currency: str = "usd") -> Cart:
    """A new empty cart (its id is the right to use it)."""
    now = utcnow()
    cart = Cart(
        id=new_cart_id(),
        status=CartStatus.ACTIVE,
        version=1,
        currency=currency,
        email=email,
        last_activity_at=now,
        expires_at=now + CART_TTL,
    )
    session.add(cart)
    session.flush()
    return cart


def _item(session: Session, cart: Cart, sku: str) -> CartItem | None:
    return session.scalar(select(CartItem).where(CartItem.cart_id == cart.id, CartItem.sku == sku))


def _stock(session: Session, cart: Cart, policy: StockPolicy, *extra: str) -> dict[str, int] | None:
    skus: Sequence[str] = [
        *session.scalars(select(CartItem.sku).where(CartItem.cart_id == cart.id)),
        *extra,
    ]
    return reader.checked_available_units(skus, timeout_ms=policy.timeout_ms)


def _require_stock(
    available: dict[str, int] | None, *, sku: str, quantity: int, policy: StockPolicy
) -> None:
    if available is None:
        if not policy.fallback:
            raise StockUnavailable("Stock cannot be verified right now; try again shortly.")
        return
    if available.get(sku, 0) < quantity:
        units = available.get(sku, 0)
        raise OutOfStock(f"Only {units} unit(s) of {sku} available.", available=units)


def add_item(
    session: Session,
    *,
    cart_id: str,
    sku: str,
    quantity: int,
    policy: StockPolicy,
    expected_version: int | None = None,
) -> CartView:
    """Add ``quantity`` of ``sku`` (adding up with what is there, at most 99 in total)."""
    cart = lock_for_write(session, cart_id, expected_version=expected_version)
    product = session.get(Product, sku)
    if product is None:
        raise NotFound(f"No such product: {sku}.")
    if product.currency != cart.currency:
        raise InvalidItem(
            "sku", f"{sku} is sold in {product.currency}, the cart is in {cart.currency}."
        )
    item = _item(session, cart, sku)
    total = (item.quantity if item else 0) + quantity
    if total > MAX_QUANTITY:
        raise InvalidItem("quantity", f"At most {MAX_QUANTITY} units of one sku per cart.")
    available = _stock(session, cart, policy, sku)
    _require_stock(available, sku=sku, quantity=total, policy=policy)
    if item is None:
        session.add(
            CartItem(cart_id=cart.id, sku=sku, quantity=total, unit_price_cents=product.price_cents)
        )
    else:
        item.quantity, item.version = total, item.version + 1
    touch(cart)
    session.flush()
    return view(session, cart, policy=policy, available=available)


def set_quantity(
    session: Session,
    *,
    cart_id: str,
    sku: str,
    quantity: int,
    policy: StockPolicy,
    expected_version: int | None = None,
) -> CartView:
    """Set a line's quantity; 0 removes it. Only an increase needs the stock to be there."""
    cart = lock_for_write(session, cart_id, expected_version=expected_version)
    item = _item(session, cart, sku)
    if item is None:
        raise NotFound(f"{sku} is not in the cart.")
    available = _stock(session, cart, policy)
    if quantity > item.quantity:
        _require_stock(available, sku=sku, quantity=quantity, policy=policy)
    if quantity == 0:
        session.delete(item)
    else:
        item.quantity, item.version = quantity, item.version + 1
    touch(cart)
    session.flush()
    return view(session, cart, policy=policy, available=available)


def remove_item(
    session: Session,
    *,
    cart_id: str,
    sku: str,
    policy: StockPolicy,
    expected_version: int | None = None,
) -> CartView:
    cart = lock_for_write(session, cart_id, expected_version=expected_version)
    removed = affected_rows(
        session, delete(CartItem).where(CartItem.cart_id == cart.id, CartItem.sku == sku)
    )
    if not removed:
        raise NotFound(f"{sku} is not in the cart.")
    touch(cart)
    session.flush()
    return view(session, cart, policy=policy, available=_stock(session, cart, policy))


def apply_discount(
    session: Session,
    *,
    cart_id: str,
    code: str,
    policy: StockPolicy,
    expected_version: int | None = None,
) -> CartView:
    cart = lock_for_write(session, cart_id, expected_version=expected_version)
    cart.discount_code = usable_code(session, code, cart=cart).code
    touch(cart)
    session.flush()
    return view(session, cart, policy=policy, available=_stock(session, cart, policy))


def remove_discount(
    session: Session,
    *,
    cart_id: str,
    policy: StockPolicy,
    expected_version: int | None = None,
) -> CartView:
    cart = lock_for_write(session, cart_id, expected_version=expected_version)
    if cart.discount_code is None:
        raise NotFound("The cart has no discount code.")
    cart.discount_code = None
    touch(cart)
    session.flush()
    return view(session, cart, policy=policy, available=_stock(session, cart, policy))
