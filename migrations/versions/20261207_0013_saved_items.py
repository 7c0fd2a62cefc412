"""Saved-for-later items per cart, and the batch endpoint's idempotency keys.

New tables only: the previous release never reads them. Lock and statement timeouts
are set for every migration by ``migrations/env.py``.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "saved_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cart_id", sa.String(64), nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column(
            "saved_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint("quantity BETWEEN 1 AND 99", name=op.f("ck_saved_items_quantity_range")),
        sa.ForeignKeyConstraint(
            ["cart_id"], ["carts.id"], name=op.f("fk_saved_items_cart_id_carts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["sku"], ["products.sku"], name=op.f("fk_saved_items_sku_products")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_items")),
        sa.UniqueConstraint("cart_id", "sku", name=op.f("uq_saved_items_cart_id_sku")),
    )
    op.create_index("ix_saved_items_sku", "saved_items", ["sku"])
    op.create_table(
        "cart_batch_keys",
        sa.Column("cart_id", sa.String(64), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("response", postgresql.JSONB(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["cart_id"],
            ["carts.id"],
            name=op.f("fk_cart_batch_keys_cart_id_carts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("cart_id", "key", name=op.f("pk_cart_batch_keys")),
    )


def downgrade() -> None:
    op.drop_table("cart_batch_keys")
    op.drop_index("ix_saved_items_sku", table_name="saved_items")
    op.drop_table("saved_items")
