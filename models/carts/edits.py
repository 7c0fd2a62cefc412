"""Changing a cart: create it, add, set or remove items, apply or remove a discount.

An item write is four Core statements and a stock read: the cart row locked, checked
and touched in one (``lifecycle.claim_for_write``), its lines and saved items read after
the lock (``reads.contents``), the stock of all of them read once, and the line upserted
or deleted; the response is built from what those returned (``reads.written_view``).
A discount write locks the cart (``lifecycle.lock_for_write``: version and status
checked), bumps the version (``lifecycle.touch``) and returns the cart as ``reads.view``
reads it inside the same transaction.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import bindparam, delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from models.base import utcnow
from models.carts.discounts import usable_code
from models.carts.lifecycle import claim_for_write, lock_for_write, note_version, touch
from models.carts.reads import (
    CartView,
    Contents,
    LineRow,
    StockPolicy,
    contents,
    view,
    written_view,
)
from models.carts.tables import CART_TTL, MAX_QUANTITY, Cart, CartItem, CartStatus, new_cart_id
from models.errors import InvalidItem, NotFound, OutOfStock, StockUnavailable
from models.stock import reader

_ITEMS = CartItem.__table__
_CARTS = Cart.__table__
# Built once; the lock on the cart row serialises every write to its lines, so the line
# read after the lock is the one the upsert replaces.
_SET_LINE = (
    insert(_ITEMS)
    .values(
        cart_id=bindparam("cart_id"),
        sku=bindparam("sku"),
        quantity=bindparam("quantity"),
        unit_price_cents=bindparam("unit_price_cents"),
        version=1,
    )
    .on_conflict_do_update(
        index_elements=[_ITEMS.c.cart_id, _ITEMS.c.sku],
        set_={"quantity": insert(_ITEMS).excluded.quantity, "version": _ITEMS.c.version + 1},
    )
)
_REMOVE_LINE = delete(_ITEMS).where(
    _ITEMS.c.cart_id == bindparam("cart_id"), _ITEMS.c.sku == bindparam("sku")
)
_OPEN = insert(_CARTS).values(
    id=bindparam("id"),
    status=CartStatus.ACTIVE,
    version=1,
    currency=bindparam("currency"),
    email=bindparam("email"),
    marketing_consent_at=bindparam("marketing_consent_at"),
    last_activity_at=bindparam("now"),
    expires_at=bindparam("expires_at"),
)


def create_cart(
    session: Session,
    *,
    email: str | None = None,
    currency: str = "usd",
    marketing_consent_at: dt.datetime | None = None,
) -> CartView:
    """A new empty cart (its id is the right to use it), as the storefront sees it."""
    now = utcnow()
    cart_id = new_cart_id()
    session.connection().execute(
        _OPEN,
        {
            "id": cart_id,
            "currency": currency,
            "email": email,
            "marketing_consent_at": marketing_consent_at,
            "now": now,
            "expires_at": now + CART_TTL,
        },
    )
    note_version(session, cart_id, 1)
    return CartView(cart_id, CartStatus.ACTIVE, 1, currency, email, None, [], None, None, 0, 0, 0)


def _stock(contents: Contents, policy: StockPolicy, *extra: str) -> dict[str, int] | None:
    """Stock of the cart's lines and saved items (and ``extra``) in one read."""
    return reader.checked_available_units(contents.skus(*extra), timeout_ms=policy.timeout_ms)


def _cart_stock(session: Session, cart: Cart, policy: StockPolicy) -> dict[str, int] | None:
    """Stock of the lines of a cart loaded as a ``Cart`` (the discount writes)."""
    skus = session.scalars(select(CartItem.sku).where(CartItem.cart_id == cart.id))
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


def set_line(session: Session, cart_id: str, line: LineRow) -> None:
    """Write the cart's line for ``line.sku`` (a new one, or its quantity and version)."""
    parameters = {
        "cart_id": cart_id,
        "sku": line.sku,
        "quantity": line.quantity,
        "unit_price_cents": line.unit_price_cents,
    }
    session.connection().execute(_SET_LINE, parameters)


def remove_line(session: Session, cart_id: str, sku: str) -> None:
    session.connection().execute(_REMOVE_LINE, {"cart_id": cart_id, "sku": sku})


def replace_line(found: Contents, old: LineRow | None, new: LineRow | None) -> None:
    """Change ``found``'s lines as the write did: a new line comes last (the highest id)."""
    if old is None and new is not None:
        found.lines.append(new)
    elif old is not None:
        index = found.lines.index(old)
        if new is None:
            del found.lines[index]
        else:
            found.lines[index] = new


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
    cart = claim_for_write(session, cart_id, expected_version=expected_version)
    found = contents(session, cart_id, skus=[sku])
    product = found.products.get(sku)
    if product is None:
        raise NotFound(f"No such product: {sku}.")
    if product.currency != cart.currency:
        raise InvalidItem(
            "sku", f"{sku} is sold in {product.currency}, the cart is in {cart.currency}."
        )
    item = found.line(sku)
    total = (item.quantity if item else 0) + quantity
    if total > MAX_QUANTITY:
        raise InvalidItem("quantity", f"At most {MAX_QUANTITY} units of one sku per cart.")
    available = _stock(found, policy, sku)
    _require_stock(available, sku=sku, quantity=total, policy=policy)
    if item is None:
        price = product.current_price_cents
        line = LineRow(sku, product.name, total, price, price)
    else:
        line = item._replace(quantity=total)
    set_line(session, cart_id, line)
    replace_line(found, item, line)
    return written_view(cart, found, policy=policy, available=available)


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
    cart = claim_for_write(session, cart_id, expected_version=expected_version)
    found = contents(session, cart_id)
    item = found.line(sku)
    if item is None:
        raise NotFound(f"{sku} is not in the cart.")
    available = _stock(found, policy)
    if quantity > item.quantity:
        _require_stock(available, sku=sku, quantity=quantity, policy=policy)
    if quantity == 0:
        remove_line(session, cart_id, sku)
        replace_line(found, item, None)
    else:
        line = item._replace(quantity=quantity)
        set_line(session, cart_id, line)
        replace_line(found, item, line)
    return written_view(cart, found, policy=policy, available=available)


def remove_item(
    session: Session,
    *,
    cart_id: str,
    sku: str,
    policy: StockPolicy,
    expected_version: int | None = None,
) -> CartView:
    cart = claim_for_write(session, cart_id, expected_version=expected_version)
    found = contents(session, cart_id)
    item = found.line(sku)
    if item is None:
        raise NotFound(f"{sku} is not in the cart.")
    available = _stock(found, policy)
    remove_line(session, cart_id, sku)
    replace_line(found, item, None)
    return written_view(cart, found, policy=policy, available=available)


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
    return view(session, cart, policy=policy, available=_cart_stock(session, cart, policy))


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
    return view(session, cart, policy=policy, available=_cart_stock(session, cart, policy))
