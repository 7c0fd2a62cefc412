"""Index the storefront's product listing orders: (name, sku) and (price_cents, sku).

``GET /api/products`` pages by keyset in name or price order (sku breaks ties), so each
page is an index range scan, not a sort of the whole catalogue. Built CONCURRENTLY,
outside a transaction, so products stay writable; IF NOT EXISTS lets a release that
died half-way run again.

Revision ID: 0008
Revises: 0003
Create Date: 2026-12-01 09:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0003"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_products_name_sku", ["name", "sku"]),
    ("ix_products_price_cents_sku", ["price_cents", "sku"]),
)


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.execute("SET statement_timeout = 0")  # an index build on a big table takes time
        for name, columns in INDEXES:
            op.create_index(
                name, "products", columns, postgresql_concurrently=True, if_not_exists=True
            )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        for name, _columns in INDEXES:
            op.drop_index(name, postgresql_concurrently=True, if_exists=True)
