"""Carts, their items, the events the funnel and recovery read, and discount codes.

The tables, the cart statuses and rules (lifetime, quantity cap, writable statuses) and
the cart id. Reading a cart is in ``reads``, changing one in ``edits``, its status in
``lifecycle``, its discount code in ``discounts``.
"""

from __future__ import annotations

import datetime as dt
import enum
import secrets
import uuid
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Computed,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, created_at, quoted


class CartStatus(enum.StrEnum):
    ACTIVE = "active"
    CHECKOUT = "checkout"
    COMPLETED = "completed"
    ABANDONED = "abandoned"


CART_TTL = dt.timedelta(days=30)
MAX_QUANTITY = 99
# Statuses that take item and discount writes (writing revives an abandoned cart).
WRITABLE_STATUSES = (CartStatus.ACTIVE, CartStatus.ABANDONED)
STOCK_ERROR = "Unable to verify stock"


class Cart(Base):
    __tablename__ = "carts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default=CartStatus.ACTIVE)
    # Derived by PostgreSQL, so it can never disagree with ``status``.
    is_active: Mapped[bool] = mapped_column(Computed("status = 'active'", persisted=True))
    version: Mapped[int] = mapped_column(default=1)
    currency: Mapped[str] = mapped_column(String(3), default="usd")
    email: Mapped[str | None] = mapped_column(String(320))
    # When the buyer agreed to marketing email (recovery reminders); None: no consent.
    marketing_consent_at: Mapped[dt.datetime | None]
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
        CheckConstraint(f"status IN ({quoted(tuple(CartStatus))})", name="status_known"),
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
    # A recovery code is for this address only (compared case-insensitively).
    email: Mapped[str | None] = mapped_column(String(320))
    expires_at: Mapped[dt.datetime | None]
    used_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = created_at()

    __table_args__ = (
        CheckConstraint("percent BETWEEN 1 AND 100", name="percent_range"),
        Index("ix_discount_codes_cart_id", "cart_id"),
    )


def new_cart_id() -> str:
    """An unguessable cart token (knowing it is the right to use the cart)."""
    return secrets.token_urlsafe(24)


class SavedItem(Base):
    """An item saved for later: not in the cart's totals, moved back on request."""

    __tablename__ = "saved_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    cart_id: Mapped[str] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"))
    sku: Mapped[str] = mapped_column(ForeignKey("products.sku"))
    quantity: Mapped[int]
    saved_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())

    __table_args__ = (
        UniqueConstraint("cart_id", "sku"),
        CheckConstraint("quantity BETWEEN 1 AND 99", name="quantity_range"),
        Index("ix_saved_items_sku", "sku"),
    )


class CartBatchKey(Base):
    """A batch request's ``Idempotency-Key`` and the response it got, replayed on a retry."""

    __tablename__ = "cart_batch_keys"

    cart_id: Mapped[str] = mapped_column(
        ForeignKey("carts.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    response: Mapped[dict[str, Any]]
    created_at: Mapped[dt.datetime] = created_at()
