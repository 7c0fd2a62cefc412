"""Index the foreign keys between carts and discount codes.

Deleting a cart (the nightly purge) or a code otherwise scans the other table. The
indexes are built CONCURRENTLY, outside a transaction, so carts stay writable while
they build; IF NOT EXISTS lets a release that died half-way run again.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 06:03:37.428519
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_carts_discount_code", "carts", "discount_code"),
    ("ix_discount_codes_cart_id", "discount_codes", "cart_id"),
)


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.execute("SET statement_timeout = 0")  # an index build on a big table takes time
        for name, table, column in INDEXES:
            op.create_index(name, table, [column], postgresql_concurrently=True, if_not_exists=True)


def downgrade() -> None:
    with op.get_context().autocommit_block():
        for name, _table, _column in INDEXES:
            op.drop_index(name, postgresql_concurrently=True, if_exists=True)
