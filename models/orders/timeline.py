"""An order's timeline: status changes, payment events, emails, admin actions."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Iterator
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


# session.info key: the order whose lines are being collected, and its lines so far.
_COLLECTING = "timeline_collecting"


def add_event(session: Session, order: Order, kind: str, **data: Any) -> None:
    """Add a line to ``order``'s timeline in the caller's transaction.

    Inside ``collecting(session, order)`` the line is kept for the caller to write.
    """
    collecting = session.info.get(_COLLECTING)
    if collecting is not None and collecting[0] is order:
        collecting[1].append({"kind": kind, "data": data})
    else:
        session.add(OrderEvent(order_id=order.id, kind=kind, data=data))


@contextlib.contextmanager
def collecting(session: Session, order: Order) -> Iterator[list[dict[str, Any]]]:
    """Keep the lines added to ``order``'s timeline meanwhile, in order, instead of adding them.

    The caller writes them (``kind`` and ``data`` each) in one statement of its own; lines
    of other orders are added as usual.
    """
    lines: list[dict[str, Any]] = []
    outer = session.info.get(_COLLECTING)
    session.info[_COLLECTING] = (order, lines)
    try:
        yield lines
    finally:
        session.info[_COLLECTING] = outer
