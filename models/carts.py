"""Carts, their items, the events the funnel and recovery read, and discount codes."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Connection,
    ForeignKey,
    Index,
    Row,
    String,
    UniqueConstraint,
    bindparam,
    delete,
    func,
    select,
    text,
)
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from models import catalog
from models.base import Base, created_at, utcnow
from models.catalog import Product


class Cart(Base):
    __tablename__ = "carts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="active")
    is_active: Mapped[bool] = mapped_column(default=True)
    version: Mapped[int] = mapped_column(default=1)
    currency: Mapped[str] = mapped_column(String(3), default="usd")
    email: Mapped[str | None] = mapped_column(String(320))
    discount_code: Mapped[str | None] = mapped_column(
        ForeignKey("discount_codes.code", ondelete="SET NULL", use_alter=True)
    )
    meta: Mapped[dict[str, Any]] = mapped_column(
        "metadata", default=dict, server_default=text("'{}'::jsonb")
    )
    order_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("orders.id", ondelete="SET NULL", use_alter=True)
    )
    created_at: Mapped[dt.datetime] = created_at()
    last_activity_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[dt.datetime]

    items: Mapped[list[CartItem]] = relationship(
        back_populates="cart", cascade="all, delete-orphan", order_by="CartItem.id"
    )

    __table_args__ = (
        CheckConstraint(
            "status IN ('active', 'checkout', 'completed', 'abandoned')", name="status_known"
        ),
        Index("ix_carts_status_last_activity_at", "status", "last_activity_at"),
        Index("ix_carts_expires_at", "expires_at"),
        Index("ix_carts_order_id", "order_id"),
        Index("ix_carts_discount_code", "discount_code"),
    )


class CartItem(Base):
    __tablename__ = "cart_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    cart_id: Mapped[str] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"))
    sku: Mapped[str] = mapped_column(ForeignKey("products.sku"))
    quantity: Mapped[int]
    unit_price_cents: Mapped[int]
    version: Mapped[int] = mapped_column(default=1)
    added_at: Mapped[dt.datetime] = created_at()

    cart: Mapped[Cart] = relationship(back_populates="items")

    __table_args__ = (
        UniqueConstraint("cart_id", "sku"),
        CheckConstraint("quantity BETWEEN 1 AND 99", name="quantity_range"),
        Index("ix_cart_items_sku", "sku"),
    )


class CartEvent(Base):
    """What happened to a cart, for abandoned-cart recovery and funnel analytics."""

    __tablename__ = "cart_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    cart_id: Mapped[str] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    sku: Mapped[str | None] = mapped_column(String(64))
    quantity: Mapped[int | None]
    at: Mapped[dt.datetime]
    source_id: Mapped[str | None] = mapped_column(String(64), unique=True)

    __table_args__ = (Index("ix_cart_events_cart_id_at", "cart_id", "at"),)


class DiscountCode(Base):
    __tablename__ = "discount_codes"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    percent: Mapped[int]
    cart_id: Mapped[str | None] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"))
    expires_at: Mapped[dt.datetime | None]
    used_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = created_at()

    __table_args__ = (
        CheckConstraint("percent BETWEEN 1 AND 100", name="percent_range"),
        Index("ix_discount_codes_cart_id", "cart_id"),
    )


# --- Domain operations -------------------------------------------------------------------

CART_TTL = dt.timedelta(days=30)
MAX_QUANTITY = 99
WRITABLE_STATUSES = ("active", "abandoned")
STOCK_ERROR = "Unable to verify stock"


class CartError(Exception):
    """A cart operation that cannot be done as asked; ``code`` names it for the API."""

    code = "cart_error"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra


class NotFound(CartError):
    code = "not_found"


class VersionConflict(CartError):
    code = "version_conflict"


class CartNotActive(CartError):
    code = "cart_not_active"


class InvalidItem(CartError):
    """The body is well-formed but breaks a cart rule (quantity total, currency)."""

    code = "validation_error"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, errors=[{"field": field, "message": message}])


class OutOfStock(CartError):
    code = "out_of_stock"


class StockUnavailable(CartError):
    code = "stock_unavailable"


class InvalidCode(CartError):
    code = "invalid_code"


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


def new_cart_id() -> str:
    """An unguessable cart token (knowing it is the right to use the cart)."""
    return secrets.token_urlsafe(24)


def discount_amount(subtotal_cents: int, percent: int | None) -> int:
    """The discount in cents, rounded down: never more than ``percent`` of the subtotal."""
    return subtotal_cents * percent // 100 if percent else 0


def _line(values: Sequence[Any], available: int | None, policy: StockPolicy) -> Line:
    """``values`` as in ``_LINE_COLUMNS``; ``available`` None: stock could not be verified."""
    sku, name, quantity, unit_price, current_price = values
    if available is None:
        in_stock, error = policy.fallback, STOCK_ERROR
    else:
        in_stock, error = available >= quantity, None
    return Line(sku, name, quantity, unit_price, current_price, in_stock, error, available)


def _make_view(cart: Cart | Row, percent: int | None, lines: list[Line]) -> CartView:
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
    )


_LINE_COLUMNS = (
    CartItem.sku,
    Product.name,
    CartItem.quantity,
    CartItem.unit_price_cents,
    Product.price_cents,
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
# Where a read row's line columns sit (all NULL for an empty cart), and its stock after them.
_LINE_SLICE = slice(len(_HEADER_COLUMNS), len(_HEADER_COLUMNS) + len(_LINE_COLUMNS))
_STOCK_INDEX = _LINE_SLICE.stop


def _read_statement(*, with_stock: bool):
    columns = [*_HEADER_COLUMNS, *_LINE_COLUMNS]
    if with_stock:
        columns.append(catalog.available_units_of(CartItem.sku).label("available"))
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

    Runs on the stock reader (autocommit, statement timeout; see models.catalog) rather
    than in a caller's transaction: a read needs no transaction, and this keeps it at one
    round trip. When the statement times out the lines are read again without stock.
    """

    def query(connection: Connection) -> tuple[list[Row], bool]:
        try:
            return connection.execute(_READ_WITH_STOCK, {"cart_id": cart_id}).all(), True
        except OperationalError as error:
            if not catalog.timed_out(error):
                raise
            return connection.execute(_READ_WITHOUT_STOCK, {"cart_id": cart_id}).all(), False

    rows, stocked = catalog.read(policy.timeout_ms, query)
    if not rows:
        raise NotFound("No such cart.")
    lines = [
        _line(row[_LINE_SLICE], catalog.units(row[_STOCK_INDEX]) if stocked else None, policy)
        for row in rows
        if row[_LINE_SLICE.start] is not None
    ]
    return _make_view(rows[0], rows[0].percent, lines)


def view(
    session: Session, cart: Cart, *, policy: StockPolicy, available: dict[str, int] | None
) -> CartView:
    """The cart inside a write's transaction (sees the write); ``available`` from before it."""
    rows = session.connection().execute(_LINES, {"cart_id": cart.id}).all()
    percent = session.get(DiscountCode, cart.discount_code).percent if cart.discount_code else None
    lines = [
        _line(row, None if available is None else available.get(row.sku, 0), policy) for row in rows
    ]
    return _make_view(cart, percent, lines)


def create_cart(session: Session, *, email: str | None = None, currency: str = "usd") -> Cart:
    now = utcnow()
    cart = Cart(
        id=new_cart_id(),
        status="active",
        is_active=True,
        version=1,
        currency=currency,
        email=email,
        last_activity_at=now,
        expires_at=now + CART_TTL,
    )
    session.add(cart)
    session.flush()
    return cart


def lock_cart(session: Session, cart_id: str, *, expected_version: int | None = None) -> Cart:
    """Lock the cart for a write; checks ``If-Match`` and that the cart takes writes.

    The row lock serialises concurrent writes, so writes without a version never lose
    an update: each one applies on top of the one before.
    """
    cart = session.get(Cart, cart_id, with_for_update=True, populate_existing=True)
    if cart is None:
        raise NotFound("No such cart.")
    if expected_version is not None and expected_version != cart.version:
        raise VersionConflict("The cart changed since you read it.", current_version=cart.version)
    if cart.status not in WRITABLE_STATUSES:
        raise CartNotActive(f"The cart is {cart.status} and cannot be changed.")
    return cart


def touch(cart: Cart) -> None:
    """Record a write: new version, fresh activity time and expiry; revives an abandoned cart."""
    now = utcnow()
    cart.version += 1
    cart.last_activity_at = now
    cart.expires_at = now + CART_TTL
    if cart.status == "abandoned":
        cart.status, cart.is_active = "active", True


def _item(session: Session, cart: Cart, sku: str) -> CartItem | None:
    return session.scalar(select(CartItem).where(CartItem.cart_id == cart.id, CartItem.sku == sku))


def _stock(session: Session, cart: Cart, policy: StockPolicy, *extra: str):
    skus: Sequence[str] = [
        *session.scalars(select(CartItem.sku).where(CartItem.cart_id == cart.id)),
        *extra,
    ]
    return catalog.checked_available_units(skus, timeout_ms=policy.timeout_ms)


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
    cart = lock_cart(session, cart_id, expected_version=expected_version)
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
    cart = lock_cart(session, cart_id, expected_version=expected_version)
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
    cart = lock_cart(session, cart_id, expected_version=expected_version)
    removed = session.execute(
        delete(CartItem).where(CartItem.cart_id == cart.id, CartItem.sku == sku)
    ).rowcount
    if not removed:
        raise NotFound(f"{sku} is not in the cart.")
    touch(cart)
    session.flush()
    return view(session, cart, policy=policy, available=_stock(session, cart, policy))


def usable_code(session: Session, code: str, *, cart: Cart, lock: bool = False) -> DiscountCode:
    """The discount code if this cart may use it now; else ``InvalidCode``."""
    row = session.get(DiscountCode, code, with_for_update=lock)
    if row is None:
        raise InvalidCode("Unknown discount code.")
    if row.expires_at is not None and row.expires_at <= utcnow():
        raise InvalidCode("This discount code has expired.")
    if row.used_at is not None:
        raise InvalidCode("This discount code has already been used.")
    if row.cart_id is not None and row.cart_id != cart.id:
        raise InvalidCode("This discount code belongs to another cart.")
    return row


def apply_discount(
    session: Session,
    *,
    cart_id: str,
    code: str,
    policy: StockPolicy,
    expected_version: int | None = None,
) -> CartView:
    cart = lock_cart(session, cart_id, expected_version=expected_version)
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
    cart = lock_cart(session, cart_id, expected_version=expected_version)
    if cart.discount_code is None:
        raise NotFound("The cart has no discount code.")
    cart.discount_code = None
    touch(cart)
    session.flush()
    return view(session, cart, policy=policy, available=_stock(session, cart, policy))
