"""Products and on-hand stock per warehouse, and the bounded stock reads of the storefront."""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

import psycopg
from sqlalchemy import (
    CheckConstraint,
    Connection,
    Engine,
    ForeignKey,
    String,
    bindparam,
    create_engine,
    func,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from models import db
from models.base import Base, created_at
from models.orders import Reservation

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Product(Base):
    __tablename__ = "products"

    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    price_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3), default="usd")
    created_at: Mapped[dt.datetime] = created_at()
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now(), onupdate=func.now())

    stock_levels: Mapped[list[StockLevel]] = relationship(
        back_populates="product", cascade="all, delete-orphan", order_by="StockLevel.warehouse"
    )

    __table_args__ = (CheckConstraint("price_cents >= 0", name="price_not_negative"),)


class StockLevel(Base):
    """On-hand units of one sku in one warehouse; reservations are subtracted at read time."""

    __tablename__ = "stock_levels"

    sku: Mapped[str] = mapped_column(
        ForeignKey("products.sku", ondelete="CASCADE"), primary_key=True
    )
    warehouse: Mapped[str] = mapped_column(String(64), primary_key=True)
    on_hand: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now(), onupdate=func.now())

    product: Mapped[Product] = relationship(back_populates="stock_levels")

    __table_args__ = (CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),)


def upsert_product(
    session: Session,
    *,
    sku: str,
    name: str,
    price_cents: int,
    currency: str = "usd",
    stock: Mapping[str, int] | None = None,
) -> Product:
    """Create or update a product; ``stock`` sets on-hand units per named warehouse."""
    product = session.get(Product, sku, with_for_update=True)
    if product is None:
        product = Product(sku=sku, name=name, price_cents=price_cents, currency=currency)
        session.add(product)
    else:
        product.name, product.price_cents, product.currency = name, price_cents, currency
    for warehouse, on_hand in sorted((stock or {}).items()):
        session.execute(
            insert(StockLevel)
            .values(sku=sku, warehouse=warehouse, on_hand=on_hand)
            .on_conflict_do_update(
                index_elements=[StockLevel.sku, StockLevel.warehouse],
                set_={"on_hand": on_hand, "updated_at": func.now()},
            )
        )
    session.flush()
    return product


def _like_pattern(query: str) -> str:
    escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_products(
    session: Session, *, query: str | None = None, after_sku: str | None = None, limit: int = 20
) -> list[Product]:
    """Products in sku order after ``after_sku`` (keyset paging), ``query`` in sku or name."""
    statement = select(Product).order_by(Product.sku).limit(limit)
    if query:
        pattern = _like_pattern(query)
        statement = statement.where(
            or_(Product.sku.ilike(pattern, escape="\\"), Product.name.ilike(pattern, escape="\\"))
        )
    if after_sku is not None:
        statement = statement.where(Product.sku > after_sku)
    return list(session.scalars(statement))


def on_hand_by_warehouse(session: Session, sku: str) -> dict[str, int]:
    return dict(
        session.execute(
            select(StockLevel.warehouse, StockLevel.on_hand)
            .where(StockLevel.sku == sku)
            .order_by(StockLevel.warehouse)
        ).all()
    )


# --- Stock reads for the storefront ----------------------------------------------------
#
# Cart and product pages show stock, but must not hang when the stock tables are slow or
# locked: those reads run on a small pool of autocommit connections that carry
# ``statement_timeout`` from the moment they connect, so a read is one statement with no
# transaction, savepoint or SET around it. They are advisory: reservations
# (models.inventory) lock the stock rows and are the only authority at checkout.

_readers: dict[tuple[Engine, int], Engine] = {}
_readers_lock = threading.Lock()


def stock_reader(timeout_ms: int) -> Engine:
    """The process's stock-read engine for the configured database and ``timeout_ms``."""
    key = (db.engine(), timeout_ms)
    reader = _readers.get(key)
    if reader is not None:
        return reader
    with _readers_lock:
        # Readers of an engine that ``db.configure`` replaced hold connections for nothing.
        for stale in [k for k in _readers if k[0] is not key[0]]:
            _readers.pop(stale).dispose()
        reader = _readers.get(key)
        if reader is None:
            reader = _readers[key] = create_engine(
                key[0].url,
                isolation_level="AUTOCOMMIT",
                # No ping per checkout (a round trip per read): ``read`` retries a read
                # that met a stale connection instead.
                pool_pre_ping=False,
                # As large as the main pool: a web process's threads all read stock, and
                # overflow connections are closed on return (a new backend per burst).
                pool_size=10,
                max_overflow=10,
                pool_timeout=5,
                connect_args={
                    "connect_timeout": 5,
                    "options": f"-c statement_timeout={int(timeout_ms)}",
                },
            )
    return reader


def _dispose_readers_after_fork() -> None:
    for reader in _readers.values():
        reader.dispose(close=False)


os.register_at_fork(after_in_child=_dispose_readers_after_fork)


def read(timeout_ms: int, query: Callable[[Connection], T]) -> T:
    """Run the read-only ``query`` on a stock-reader connection.

    A pooled connection the server dropped (restart, idle kill) is replaced and the read
    run once more (``db.with_connection``). A statement that hits the timeout raises
    ``OperationalError`` (see ``timed_out``).
    """
    return db.with_connection(stock_reader(timeout_ms), query)


def timed_out(error: OperationalError) -> bool:
    """Whether ``error`` is a statement cancelled by its timeout (not an outage)."""
    return isinstance(error.orig, psycopg.errors.QueryCanceled)


def available_units_of(sku_column):
    """Available units of the sku in ``sku_column`` over all warehouses (NULL: no stock rows).

    The rule of ``inventory.available_by_sku``: on hand minus active reservations that have
    not expired, as a correlated subquery so a cart's lines and their stock are one query.
    """
    reserved = (
        select(func.coalesce(func.sum(Reservation.quantity), 0))
        .where(
            Reservation.sku == StockLevel.sku,
            Reservation.warehouse == StockLevel.warehouse,
            Reservation.status == "active",
            Reservation.expires_at > func.now(),
        )
        .scalar_subquery()
    )
    return (
        select(func.sum(StockLevel.on_hand - reserved))
        .where(StockLevel.sku == sku_column)
        .scalar_subquery()
    )


# Built once: the hot read paths only bind parameters.
_AVAILABLE = select(Product.sku, available_units_of(Product.sku)).where(
    Product.sku.in_(bindparam("skus", expanding=True))
)


def units(value: object) -> int:
    """A stock figure from SQL as a count: no stock rows or over-reserved means 0."""
    return max(int(value or 0), 0)


def available_units(connection: Connection, skus: Iterable[str]) -> dict[str, int]:
    """Available units per sku in one statement on ``connection``; unknown skus map to 0."""
    wanted = sorted(set(skus))
    if not wanted:
        return {}
    found = dict(connection.execute(_AVAILABLE, {"skus": wanted}).all())
    return {sku: units(found.get(sku)) for sku in wanted}


def checked_available_units(skus: Iterable[str], *, timeout_ms: int) -> dict[str, int] | None:
    """``available_units`` on the stock reader; None when the read timed out (unverifiable)."""
    wanted = sorted(set(skus))
    if not wanted:
        return {}
    try:
        return read(timeout_ms, lambda connection: available_units(connection, wanted))
    except OperationalError as error:
        if not timed_out(error):
            raise
        logger.warning("Stock read timed out after %d ms for %d sku(s)", timeout_ms, len(wanted))
        return None
