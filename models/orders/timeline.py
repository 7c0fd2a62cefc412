"""An order's timeline: status changes, payment events, emails, admin actions."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from models.base import Base, created_at

if TYPE_CHECKING:
    from models.orders.tables import Order


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


def add_event(session: Session, order: Order, kind: str, **data: Any) -> None:
    """Add a line to ``order``'s timeline in the caller's transaction."""
    session.add(OrderEvent(order_id=order.id, kind=kind, data=data))
