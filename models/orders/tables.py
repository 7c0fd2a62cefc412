"""Orders, their items and shipments; the timeline is in ``timeline``, statuses in ``status``."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Sequence,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, created_at, quoted
from models.orders.status import OrderStatus
from models.orders.timeline import OrderEvent

if TYPE_CHECKING:
    from models.stock.tables import Reservation


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
    status: Mapped[str] = mapped_column(String(24), default=OrderStatus.PENDING_PAYMENT)
    currency: Mapped[str] = mapped_column(String(3))
    subtotal_cents: Mapped[int]
    discount_cents: Mapped[int] = mapped_column(default=0)
    total_cents: Mapped[int]
    refunded_cents: Mapped[int] = mapped_column(default=0)
    shipping_address: Mapped[dict[str, Any]]
    payment_intent_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    client_secret: Mapped[str | None] = mapped_column(String(255))
    discount_code: Mapped[str | None] = mapped_column(String(64))
    reservation_expires_at: Mapped[dt.datetime | None]
    # Reservation confirmation that failed at payment, and its retries (reconciliation).
    confirmation_errors: Mapped[list[Any] | None] = mapped_column(JSONB(none_as_null=True))
    confirmation_attempts: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    last_confirmation_at: Mapped[dt.datetime | None]
    next_confirmation_at: Mapped[dt.datetime | None]
    needs_manual_reconciliation: Mapped[bool] = mapped_column(
        default=False, server_default=text("false")
    )
    # Fulfilment.
    carrier: Mapped[str | None] = mapped_column(String(64))
    tracking_number: Mapped[str | None] = mapped_column(String(128))
    shipped_at: Mapped[dt.datetime | None]
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
    shipments: Mapped[list[Shipment]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="Shipment.id"
    )

    __table_args__ = (
        CheckConstraint(f"status IN ({quoted(tuple(OrderStatus))})", name="status_known"),
        Index("ix_orders_status_created_at", "status", "created_at"),
        # The admin's default listing: newest first, keyset-paged on (created_at, id).
        Index("ix_orders_created_at_id", "created_at", "id"),
        Index("ix_orders_email", "email"),
        Index("ix_orders_cart_id", "cart_id"),
        Index(
            "ix_orders_next_confirmation_at",
            "next_confirmation_at",
            postgresql_where=text("next_confirmation_at IS NOT NULL"),
        ),
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


class ShipmentStatus(enum.StrEnum):
    PENDING = "pending"
    SHIPPED = "shipped"


class Shipment(Base):
    """One warehouse's part of an order, shipped on its own (routing made one per warehouse).

    ``items`` is what the allocation reserved there: ``[{"sku", "quantity"}]``. Orders
    placed before warehouses routed have none; they ship as a whole.
    """

    __tablename__ = "shipments"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    warehouse: Mapped[str] = mapped_column(ForeignKey("warehouses.code"))
    items: Mapped[list[Any]]
    status: Mapped[str] = mapped_column(String(16), default=ShipmentStatus.PENDING)
    carrier: Mapped[str | None] = mapped_column(String(64))
    tracking_number: Mapped[str | None] = mapped_column(String(128))
    shipped_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = created_at()

    order: Mapped[Order] = relationship(back_populates="shipments")

    __table_args__ = (
        UniqueConstraint("order_id", "warehouse"),
        CheckConstraint(f"status IN ({quoted(tuple(ShipmentStatus))})", name="status_known"),
        Index("ix_shipments_warehouse", "warehouse"),
    )
