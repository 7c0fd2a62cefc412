"""Product views per visitor, and the purchase history a personal selection starts from."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import bindparam, delete, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from models.catalog import Product
from models.db import affected_rows
from models.orders.status import PURCHASED
from models.orders.tables import Order, OrderItem
from models.recommendations.tables import ProductView

# Views are kept as long as a visitor's interest plausibly lasts; the session purge
# deletes older ones every night.
VIEW_RETENTION = dt.timedelta(days=30)
HISTORY_VIEWS = 20
HISTORY_ORDERS = 5

_VIEWS = ProductView.__table__
# Core on the tables, built once (as models/carts/events.py): each record is one execution.
_RECORD = (
    insert(_VIEWS)
    .from_select(
        ["visitor_id", "email", "sku", "viewed_at", "source_id"],
        select(
            bindparam("visitor_id", type_=_VIEWS.c.visitor_id.type),
            bindparam("email", type_=_VIEWS.c.email.type),
            Product.__table__.c.sku,
            bindparam("viewed_at", type_=_VIEWS.c.viewed_at.type),
            bindparam("source_id", type_=_VIEWS.c.source_id.type),
        ).where(Product.__table__.c.sku == bindparam("sku")),
    )
    .on_conflict_do_nothing(index_elements=[_VIEWS.c.source_id])
)


def record(
    session: Session,
    *,
    visitor_id: str,
    sku: str,
    email: str | None,
    viewed_at: dt.datetime,
    source_id: str,
) -> None:
    """Store one view; a repeat of ``source_id`` or a product since deleted is skipped."""
    session.execute(
        _RECORD,
        {
            "visitor_id": visitor_id,
            "email": email,
            "sku": sku,
            "viewed_at": viewed_at,
            "source_id": source_id,
        },
    )


# Built once: a personal lookup binds parameters. A NULL visitor id or email matches no view.
_VIEWED = (
    select(ProductView.sku)
    .where(
        or_(
            ProductView.visitor_id == bindparam("visitor_id"),
            ProductView.email == bindparam("email"),
        )
    )
    .group_by(ProductView.sku)
    .order_by(func.max(ProductView.viewed_at).desc(), ProductView.sku)
    .limit(HISTORY_VIEWS)
)
_RECENT_ORDERS = (
    select(Order.id)
    .where(Order.email == bindparam("email"), Order.status.in_(PURCHASED))
    .order_by(Order.created_at.desc())
    .limit(HISTORY_ORDERS)
)
_BOUGHT = select(OrderItem.sku).where(OrderItem.order_id.in_(_RECENT_ORDERS)).distinct()


def history_skus(session: Session, *, visitor_id: str | None, email: str | None) -> list[str]:
    """What the visitor looked at lately and what the email bought lately, newest first."""
    skus: list[str] = []
    if visitor_id or email:
        parameters = {"visitor_id": visitor_id or None, "email": email or None}
        skus += session.scalars(_VIEWED, parameters)
    if email:
        skus += session.scalars(_BOUGHT, {"email": email})
    return list(dict.fromkeys(skus))


def purge_batch(session: Session, *, cutoff: dt.datetime, limit: int) -> int:
    """Delete up to ``limit`` views older than ``cutoff``; returns how many."""
    oldest = (
        select(ProductView.id)
        .where(ProductView.viewed_at < cutoff)
        .order_by(ProductView.viewed_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return affected_rows(
        session, delete(ProductView).where(ProductView.id.in_(oldest.scalar_subquery()))
    )
