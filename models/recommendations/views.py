"""Product views per visitor, and the purchase history a personal selection starts from."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Select,
    bindparam,
    cast,
    delete,
    func,
    literal_column,
    null,
    or_,
    select,
    union_all,
)
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


# Built once, one statement: a personal lookup binds parameters. A NULL visitor id or
# email matches no view and no order. Views come first (newest first), then purchases.
_LAST_VIEWED = func.max(ProductView.viewed_at)
_VIEWED: Select[str, Any, dt.datetime] = (
    select(ProductView.sku, literal_column("0").label("part"), _LAST_VIEWED.label("at"))
    .where(
        or_(
            ProductView.visitor_id == bindparam("visitor_id"),
            ProductView.email == bindparam("email"),
        )
    )
    .group_by(ProductView.sku)
    .order_by(_LAST_VIEWED.desc(), ProductView.sku)
    .limit(HISTORY_VIEWS)
)
_RECENT_ORDERS = (
    select(Order.id)
    .where(Order.email == bindparam("email"), Order.status.in_(PURCHASED))
    .order_by(Order.created_at.desc())
    .limit(HISTORY_ORDERS)
)
_BOUGHT = (
    select(
        OrderItem.sku,
        literal_column("1").label("part"),
        cast(null(), ProductView.viewed_at.type).label("at"),
    )
    .where(OrderItem.order_id.in_(_RECENT_ORDERS))
    .distinct()
)
_HISTORY_ROWS = union_all(_VIEWED, _BOUGHT).subquery("history")
_HISTORY = select(_HISTORY_ROWS.c.sku).order_by(
    _HISTORY_ROWS.c.part, _HISTORY_ROWS.c.at.desc(), _HISTORY_ROWS.c.sku
)


def history_skus(session: Session, *, visitor_id: str | None, email: str | None) -> list[str]:
    """What the visitor looked at lately and what the email bought lately, newest first."""
    if not (visitor_id or email):
        return []
    parameters = {"visitor_id": visitor_id or None, "email": email or None}
    return list(dict.fromkeys(session.scalars(_HISTORY, parameters)))


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
