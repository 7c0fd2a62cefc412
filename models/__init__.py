"""Typed SQLAlchemy models and the domain operations on them, one home per thing.

Every table module is imported here so that ``Base.metadata`` is complete for
Alembic and for code that only imports ``models``.
"""

from models import (
    audit,
    backfill_cursors,
    catalog,
    dead_letters,
    emails,
    inbox,
    job_runs,
    outbox,
    product_images,
    staff,
)
from models.base import Base
from models.carts import tables as cart_tables
from models.orders import refunds as order_refunds
from models.orders import tables as order_tables
from models.orders import timeline as order_timeline
from models.recovery import tables as recovery_tables
from models.stock import tables as stock_tables
from models.warehouses import tables as warehouse_tables

__all__ = [
    "Base",
    "audit",
    "backfill_cursors",
    "cart_tables",
    "catalog",
    "dead_letters",
    "emails",
    "inbox",
    "job_runs",
    "order_refunds",
    "order_tables",
    "order_timeline",
    "outbox",
    "product_images",
    "recovery_tables",
    "staff",
    "stock_tables",
    "warehouse_tables",
]
