"""Saved for later: items kept beside a cart, out of its totals, moved back on request.

The writes here run inside a cart write that already holds the cart's row lock and
bumps its version (``models.carts.batch``, which holds the rules), so a move between the
cart and its saved items is one version, atomically. Reads show today's price and stock.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from models.carts.tables import SavedItem
from models.catalog import Product
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


_SAVED = SavedItem.__table__
# Built once; the cart's row lock serialises writes to its saved items too.
_SET = (
    insert(_SAVED)
    .values(cart_id=bindparam("cart_id"), sku=bindparam("sku"), quantity=bindparam("quantity"))
    .on_conflict_do_update(
        index_elements=[_SAVED.c.cart_id, _SAVED.c.sku],
        set_={"quantity": insert(_SAVED).excluded.quantity},
    )
)
_REMOVE = delete(_SAVED).where(
    _SAVED.c.cart_id == bindparam("cart_id"), _SAVED.c.sku == bindparam("sku")
)


def set_saved(session: Session, *, cart_id: str, sku: str, quantity: int) -> None:
    """Save ``quantity`` of ``sku`` (a new saved item, or its new quantity)."""
    parameters = {"cart_id": cart_id, "sku": sku, "quantity": quantity}
    session.connection().execute(_SET, parameters)


def remove_saved(session: Session, *, cart_id: str, sku: str) -> None:
    session.connection().execute(_REMOVE, {"cart_id": cart_id, "sku": sku})
