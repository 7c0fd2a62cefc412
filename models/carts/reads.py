"""Reading a cart: the storefront's view of it, lines priced now, stock checked, totals.

``read_view`` answers a GET in one prebuilt statement on the stock reader; ``view`` reads
the cart inside a write's transaction. An item write reads the cart's ``contents`` once
after its lock and answers with ``written_view``, built from what it read and wrote.
``StockPolicy`` says how stock is checked. Rows are read by column name.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import (
    CompoundSelect,
    Connection,
    Integer,
    Row,
    Select,
    String,
    any_,
    bindparam,
    literal,
    null,
    select,
    text,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from models.carts.discounts import discount_amount
from models.carts.saved import SavedLine, read_lines
from models.carts.tables import STOCK_ERROR, Cart, CartItem, DiscountCode, SavedItem
from models.catalog import Product
from models.errors import NotFound
from models.stock import availability, reader


@dataclass(frozen=True)
class StockPolicy:
    """How cart reads check stock: statement timeout and the warehouse fallback switch."""

    timeout_ms: int = 5000
    fallback: bool = False


@dataclass(slots=True)
class Line:
    sku: str
    name: str
    quantity: int
    unit_price_cents: int
    current_price_cents: int
    in_stock: bool
    stock_error: str | None
    available: int | None  # None: not verified (not shown to clients)


@dataclass(slots=True)
class CartView:
    """A cart as the storefront sees it: lines priced now, stock checked, totals."""

    id: str
    status: str
    version: int
    currency: str
    email: str | None
    order_id: uuid.UUID | None
    lines: list[Line]
    discount_code: str | None
    discount_percent: int | None
    subtotal_cents: int
    discount_cents: int
    total_cents: int
    saved: list[SavedLine] = field(default_factory=list)


def _line(row: Row[*tuple[Any, ...]] | LineRow, available: int | None, policy: StockPolicy) -> Line:
    """A row with ``_LINE_COLUMNS``; ``available`` None: stock could not be verified."""
    if available is None:
        in_stock, error = policy.fallback, STOCK_ERROR
    else:
        in_stock, error = available >= row.quantity, None
    return Line(
        row.sku,
        row.name,
        row.quantity,
        row.unit_price_cents,
        row.current_price_cents,
        in_stock,
        error,
        available,
    )


def _make_view(
    cart: Cart | Row[*tuple[Any, ...]],
    percent: int | None,
    lines: list[Line],
    saved: list[SavedLine],
) -> CartView:
    subtotal = sum(line.quantity * line.current_price_cents for line in lines)
    off = discount_amount(subtotal, percent)
    return CartView(
        cart.id,
        cart.status,
        cart.version,
        cart.currency,
        cart.email,
        cart.order_id,
        lines,
        cart.discount_code,
        percent,
        subtotal,
        off,
        subtotal - off,
        saved,
    )


_LINE_COLUMNS = (
    CartItem.sku,
    Product.name,
    CartItem.quantity,
    CartItem.unit_price_cents,
    Product.price_cents.label("current_price_cents"),
)


_HEADER_COLUMNS = (
    Cart.id,
    Cart.status,
    Cart.version,
    Cart.currency,
    Cart.email,
    Cart.order_id,
    Cart.discount_code,
    DiscountCode.percent,
)


def _read_statement(*, with_stock: bool) -> Select[*tuple[Any, ...]]:
    columns = [*_HEADER_COLUMNS, *_LINE_COLUMNS]
    if with_stock:
        columns.append(availability.available_units_of(CartItem.sku).label("available"))
    return (
        select(*columns)
        .outerjoin(DiscountCode, DiscountCode.code == Cart.discount_code)
        .outerjoin(CartItem, CartItem.cart_id == Cart.id)
        .outerjoin(Product, Product.sku == CartItem.sku)
        .where(Cart.id == bindparam("cart_id"))
        .order_by(CartItem.id)
    )


# Built once: a cart read only binds the cart id.
_READ_WITH_STOCK = _read_statement(with_stock=True)
_READ_WITHOUT_STOCK = _read_statement(with_stock=False)
_LINES = (
    select(*_LINE_COLUMNS)
    .join(Product, Product.sku == CartItem.sku)
    .where(CartItem.cart_id == bindparam("cart_id"))
    .order_by(CartItem.id)
)


def read_view(cart_id: str, *, policy: StockPolicy) -> CartView:
    """The cart for a GET: cart, lines, prices and stock in one statement.

    Runs on the stock reader (autocommit, statement timeout; see models.stock.reader) rather
    than in a caller's transaction: a read needs no transaction, and this keeps it at one
    round trip. When the statement times out the lines are read again without stock.
    """

    def query(
        connection: Connection,
    ) -> tuple[Sequence[Row[*tuple[Any, ...]]], list[SavedLine], bool]:
        try:
            rows = connection.execute(_READ_WITH_STOCK, {"cart_id": cart_id}).all()
            return rows, read_lines(connection, cart_id), True
        except OperationalError as error:
            if not reader.timed_out(error):
                raise
            rows = connection.execute(_READ_WITHOUT_STOCK, {"cart_id": cart_id}).all()
            return rows, read_lines(connection, cart_id, stocked=False), False

    rows, saved, stocked = reader.read(policy.timeout_ms, query)
    if not rows:
        raise NotFound("No such cart.")
    lines = [
        _line(row, availability.units(row.available) if stocked else None, policy)
        for row in rows
        if row.sku is not None  # an empty cart reads as one row of NULL lines
    ]
    return _make_view(rows[0], rows[0].percent, lines, saved)


class LineRow(NamedTuple):
    """A cart line as written: what ``_line`` needs besides the stock."""

    sku: str
    name: str
    quantity: int
    unit_price_cents: int
    current_price_cents: int


class SavedRow(NamedTuple):
    """A saved item as written; its stock is checked when the view is built."""

    sku: str
    name: str
    quantity: int
    current_price_cents: int


@dataclass(slots=True)
class Contents:
    """A claimed cart's lines and saved items, read after its lock (``contents``), and the
    products asked for by sku; a write changes the lists to what it wrote."""

    lines: list[LineRow]
    saved: list[SavedRow]
    products: dict[str, Row[*tuple[Any, ...]]]

    def line(self, sku: str) -> LineRow | None:
        return next((line for line in self.lines if line.sku == sku), None)

    def saved_item(self, sku: str) -> SavedRow | None:
        return next((row for row in self.saved if row.sku == sku), None)

    def skus(self, *extra: str) -> list[str]:
        return [*(line.sku for line in self.lines), *(row.sku for row in self.saved), *extra]


def _contents_statement() -> CompoundSelect[*tuple[Any, ...]]:
    """The cart's lines, its saved items and the products ``skus``, in one statement."""
    by_cart = bindparam("cart_id", type_=String)
    no_int = null().cast(Integer)
    return union_all(
        select(
            literal("line").label("kind"),
            CartItem.id.label("position"),
            CartItem.sku,
            Product.name,
            CartItem.quantity,
            CartItem.unit_price_cents,
            Product.price_cents.label("current_price_cents"),
            Product.currency,
        )
        .join(Product, Product.sku == CartItem.sku)
        .where(CartItem.cart_id == by_cart),
        select(
            literal("saved"),
            SavedItem.id,
            SavedItem.sku,
            Product.name,
            SavedItem.quantity,
            no_int,
            Product.price_cents,
            Product.currency,
        )
        .join(Product, Product.sku == SavedItem.sku)
        .where(SavedItem.cart_id == by_cart),
        select(
            literal("product"),
            no_int,
            Product.sku,
            Product.name,
            no_int,
            no_int,
            Product.price_cents,
            Product.currency,
        ).where(Product.sku == any_(bindparam("skus", type_=ARRAY(String)))),
    ).order_by(text("position"))


_CONTENTS = _contents_statement()


def contents(session: Session, cart_id: str, *, skus: Sequence[str] = ()) -> Contents:
    """The cart's lines and saved items in their order, and those of the products ``skus``
    that exist.

    Run it after the cart is locked (``lifecycle.claim_for_write``): under READ COMMITTED
    it then sees every write committed before the lock was granted.
    """
    parameters = {"cart_id": cart_id, "skus": list(skus)}
    found = Contents([], [], {})
    for row in session.connection().execute(_CONTENTS, parameters):
        if row.kind == "line":
            found.lines.append(LineRow(*row[2:7]))
        elif row.kind == "saved":
            found.saved.append(SavedRow(row.sku, row.name, row.quantity, row.current_price_cents))
        else:
            found.products[row.sku] = row
    return found


def written_view(
    cart: Row[*tuple[Any, ...]],
    written: Contents,
    *,
    policy: StockPolicy,
    available: dict[str, int] | None,
) -> CartView:
    """The view of a claimed cart (``lifecycle.claim_for_write``) after a write, from the
    cart's ``written`` contents; ``available`` covers every line and saved item (None:
    stock unverified)."""
    shown = [
        _line(line, None if available is None else available.get(line.sku, 0), policy)
        for line in written.lines
    ]
    saved_lines = [
        SavedLine(
            row.sku,
            row.name,
            row.quantity,
            row.current_price_cents,
            available is not None and available.get(row.sku, 0) >= row.quantity,
        )
        for row in written.saved
    ]
    return _make_view(cart, cart.percent, shown, saved_lines)


def _percent(session: Session, code: str | None) -> int | None:
    if code is None:
        return None
    discount = session.get(DiscountCode, code)
    if discount is None:
        # Deleting a code sets the carts' reference to NULL, which waits on the write's lock
        # on this cart.
        raise AssertionError(f"discount code {code} of a locked cart is missing")
    return discount.percent


def view(
    session: Session, cart: Cart, *, policy: StockPolicy, available: dict[str, int] | None
) -> CartView:
    """The cart inside a write's transaction (sees the write); ``available`` from before it."""
    rows = session.connection().execute(_LINES, {"cart_id": cart.id}).all()
    percent = _percent(session, cart.discount_code)
    lines = [
        _line(row, None if available is None else available.get(row.sku, 0), policy) for row in rows
    ]
    saved = read_lines(session.connection(), cart.id, stocked=available is not None)
    return _make_view(cart, percent, lines, saved)
