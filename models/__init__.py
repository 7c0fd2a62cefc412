"""Typed SQLAlchemy models and the domain operations on them.

Every table module is imported here so that ``Base.metadata`` is complete for
Alembic and for code that only imports ``models``.
"""

from models import carts, catalog, emails, jobs, orders, outbox, webhooks
from models.base import Base

__all__ = ["Base", "carts", "catalog", "emails", "jobs", "orders", "outbox", "webhooks"]
