"""Stock rows (on hand per sku and warehouse) and the reservations that hold units."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, ForeignKeyConstraint, Index, String, func, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, created_at, quoted

if TYPE_CHECKING:
    from models.catalog import Product
    from models.orders.tables import Order


class ReservationStatus(enum.StrEnum):
    ACTIVE = "active"
    CONFIRMED = "confirmed"
    RELEASED = "released"


class StockLevel(Base):
    """On-hand units of one sku in one warehouse; reservations are subtracted at read time."""

    __tablename__ = "stock_levels"

    sku: Mapped[str] = mapped_column(
        ForeignKey("products.sku", ondelete="CASCADE"), primary_key=True
    )
    warehouse: Mapped[str] = mapped_column(ForeignKey("warehouses.code"), primary_key=True)
    on_hand: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now(), onupdate=func.now())

    product: Mapped[Product] = relationship(back_populates="stock_levels")

    __table_args__ = (CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),)


class Reservation(Base):
    """Units of one sku held in one warehouse for an order until ``expires_at``."""

    __tablename__ = "reservations"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    sku: Mapped[str] = mapped_column(String(64))
    warehouse: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default=ReservationStatus.ACTIVE)
    expires_at: Mapped[dt.datetime]
    created_at: Mapped[dt.datetime] = created_at()

    order: Mapped[Order] = relationship(back_populates="reservations")

    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(f"status IN ({quoted(tuple(ReservationStatus))})", name="status_known"),
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
