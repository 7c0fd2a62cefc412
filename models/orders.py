"""Orders, their items and timeline, and the stock reservations that back them."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Sequence,
    String,
    func,
    text,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from models.base import Base, created_at, quoted

ORDER_STATUSES = (
    "pending_payment",
    "paid",
    "payment_failed",
    "canceled",
    "shipped",
    "refunded",
    "partially_refunded",
)
RESERVATION_STATUSES = ("active", "confirmed", "released")

order_number_seq = Sequence("order_number_seq", start=100001, metadata=Base.metadata)


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    order_number: Mapped[str] = mapped_column(
        String(32),
        unique=True,
        server_default=text("'CF-' || nextval('order_number_seq')"),
    )
    cart_id: Mapped[str | None] = mapped_column(ForeignKey("carts.id", ondelete="SET NULL"))
    email: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(24), default="pending_payment")
    currency: Mapped[str] = mapped_column(String(3))
    subtotal_cents: Mapped[int]
    discount_cents: Mapped[int] = mapped_column(default=0)
    total_cents: Mapped[int]
    refunded_cents: Mapped[int] = mapped_column(default=0)
    shipping_address: Mapped[dict[str, Any]]
    payment_intent_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    client_secret: Mapped[str | None] = mapped_column(String(255))
    meta: Mapped[dict[str, Any]] = mapped_column(
        "metadata", default=dict, server_default=text("'{}'::jsonb")
    )
    created_at: Mapped[dt.datetime] = created_at()
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
    paid_at: Mapped[dt.datetime | None]

    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderItem.sku"
    )
    reservations: Mapped[list[Reservation]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="Reservation.sku"
    )
    events: Mapped[list[OrderEvent]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderEvent.id"
    )

    __table_args__ = (
        CheckConstraint(f"status IN ({quoted(ORDER_STATUSES)})", name="status_known"),
        Index("ix_orders_status_created_at", "status", "created_at"),
        Index("ix_orders_email", "email"),
        Index("ix_orders_cart_id", "cart_id"),
    )


class OrderItem(Base):
    __tablename__ = "order_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    sku: Mapped[str] = mapped_column(ForeignKey("products.sku"))
    name: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int]
    unit_price_cents: Mapped[int]

    order: Mapped[Order] = relationship(back_populates="items")

    __table_args__ = (
        Index("ix_order_items_order_id", "order_id"),
        Index("ix_order_items_sku", "sku"),
    )


class OrderEvent(Base):
    """One line of an order's timeline (status changes, webhook effects, errors)."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[dt.datetime] = created_at()

    order: Mapped[Order] = relationship(back_populates="events")

    __table_args__ = (Index("ix_order_events_order_id", "order_id"),)


class Reservation(Base):
    """Units of one sku held in one warehouse for an order until ``expires_at``."""

    __tablename__ = "reservations"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    sku: Mapped[str] = mapped_column(String(64))
    warehouse: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default="active")
    expires_at: Mapped[dt.datetime]
    created_at: Mapped[dt.datetime] = created_at()

    order: Mapped[Order] = relationship(back_populates="reservations")

    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(f"status IN ({quoted(RESERVATION_STATUSES)})", name="status_known"),
        ForeignKeyConstraint(["sku", "warehouse"], ["stock_levels.sku", "stock_levels.warehouse"]),
        Index(
            "ix_reservations_active_sku",
            "sku",
            "warehouse",
            "expires_at",
            postgresql_where=text("status = 'active'"),
        ),
        Index("ix_reservations_order_id", "order_id"),
    )


def add_event(session: Session, order: Order, kind: str, **data: Any) -> None:
    """Add a line to ``order``'s timeline in the caller's transaction."""
    session.add(OrderEvent(order_id=order.id, kind=kind, data=data))
