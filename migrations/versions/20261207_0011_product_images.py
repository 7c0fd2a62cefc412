"""Product descriptions, the active flag, and product images with their renditions.

The previous release keeps running on this schema: the new product columns have server
defaults (every existing product stays active, with an empty description), and images
live in a table of their own that the previous release never reads.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 20:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "products", sa.Column("description", sa.Text(), server_default="", nullable=False)
    )
    op.add_column(
        "products",
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
    )
    op.create_table(
        "product_images",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("alt", sa.String(500), server_default="", nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("original_format", sa.String(16), nullable=False),
        sa.Column("original_bytes", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer()),
        sa.Column("height", sa.Integer()),
        sa.Column(
            "renditions",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("placeholder", sa.Text()),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'ready', 'failed')", name=op.f("ck_product_images_status_known")
        ),
        sa.CheckConstraint("position >= 0", name=op.f("ck_product_images_position_not_negative")),
        sa.ForeignKeyConstraint(
            ["sku"],
            ["products.sku"],
            name=op.f("fk_product_images_sku_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_images")),
    )
    op.create_index("ix_product_images_sku_position", "product_images", ["sku", "position"])


def downgrade() -> None:
    op.drop_index("ix_product_images_sku_position", table_name="product_images")
    op.drop_table("product_images")
    op.drop_column("products", "active")
    op.drop_column("products", "description")
