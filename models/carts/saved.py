"""Saved for later: items kept beside a cart, out of its totals, moved back on request.

The changes here run inside a cart write that already holds the cart's row lock and
bumps its version (``models.carts.batch``), so a move between the cart and its saved
items is one version, atomically. Reads show today's price and stock.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from models.carts.tables import MAX_QUANTITY, Cart, CartItem, SavedItem
from models.catalog import Product
from models.errors import InvalidItem, NotFound
from models.stock import availability


@dataclass(slots=True, frozen=True)
class SavedLine:
    sku: str
    name: str
    quantity: int
    current_price_cents: int
    in_stock: bool


_COLUMNS = (SavedItem.sku, Product.name, SavedItem.quantity, Product.price_cents)
_BY_CART = SavedItem.cart_id == bindparam("cart_id")
# Built once: a read only binds the cart id.
_WITH_STOCK = (
    select(*_COLUMNS, availability.available_units_of(SavedItem.sku).label("available"))
    .join(Product, Product.sku == SavedItem.sku)
    .where(_BY_CART)
    .order_by(SavedItem.id)
)
_WITHOUT_STOCK = select(*_COLUMNS).join(Product, Product.sku == SavedItem.sku).where(_BY_CART)


def read_lines(connection: Connection, cart_id: str, *, stocked: bool = True) -> list[SavedLine]:
    """The cart's saved items priced now; ``stocked`` False: stock unverified, so not in stock."""
    if not stocked:
        rows = connection.execute(_WITHOUT_STOCK.order_by(SavedItem.id), {"cart_id": cart_id})
        return [SavedLine(row.sku, row.name, row.quantity, row.price_cents, False) for row in rows]
    rows = connection.execute(_WITH_STOCK, {"cart_id": cart_id})
    return [
        SavedLine(
            row.sku,
            row.name,
            row.quantity,
            row.price_cents,
            availability.units(row.available) >= row.quantity,
        )
        for row in rows
    ]


def _saved(session: Session, cart: Cart, sku: str) -> SavedItem | None:
    return session.scalar(
        select(SavedItem).where(SavedItem.cart_id == cart.id, SavedItem.sku == sku)
    )


def _add_up(session: Session, cart: Cart, sku: str, quantity: int) -> None:
    saved = _saved(session, cart, sku)
    total = (saved.quantity if saved else 0) + quantity
    if total > MAX_QUANTITY:
        raise InvalidItem("quantity", f"At most {MAX_QUANTITY} units of one sku saved.")
    if saved is None:
        session.add(SavedItem(cart_id=cart.id, sku=sku, quantity=total))
    else:
        saved.quantity = total


def save_for_later(
    session: Session, cart: Cart, item: CartItem | None, *, sku: str, quantity: int | None
) -> None:
    """Move ``quantity`` (default: all) of the cart's line for ``sku`` to saved, or save a
    product that is not in the cart (default: one unit)."""
    if item is not None:
        moved = item.quantity if quantity is None else quantity
        if moved > item.quantity:
            raise InvalidItem("quantity", f"Only {item.quantity} unit(s) of {sku} in the cart.")
        if moved == item.quantity:
            session.delete(item)
        else:
            item.quantity, item.version = item.quantity - moved, item.version + 1
        _add_up(session, cart, sku, moved)
        return
    product = session.get(Product, sku)
    if product is None:
        raise NotFound(f"No such product: {sku}.")
    _add_up(session, cart, sku, 1 if quantity is None else quantity)


def take_back(session: Session, cart: Cart, *, sku: str) -> int:
    """Remove ``sku`` from saved; returns how many units it held."""
    saved = _saved(session, cart, sku)
    if saved is None:
        raise NotFound(f"{sku} is not saved for later.")
    session.delete(saved)
    return saved.quantity
