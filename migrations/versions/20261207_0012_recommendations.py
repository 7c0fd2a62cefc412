"""Recommendations: product neighbours and sales (rebuilt nightly), views, exclusions.

New tables only, so the previous release runs on this schema unchanged.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 20:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _product(column: str, *, primary_key: bool = False) -> sa.Column:
    return sa.Column(
        column,
        sa.String(64),
        sa.ForeignKey("products.sku", ondelete="CASCADE"),
        nullable=False,
        primary_key=primary_key,
    )


def _at(column: str) -> sa.Column:
    return sa.Column(column, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "product_neighbours",
        sa.Column("sku", sa.String(64), primary_key=True),
        sa.Column("neighbour_sku", sa.String(64), primary_key=True),
        sa.Column("rank", sa.SmallInteger(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("co_purchases", sa.Integer(), nullable=False),
        _at("built_at"),
    )
    op.create_index("ix_product_neighbours_neighbour_sku", "product_neighbours", ["neighbour_sku"])
    op.create_table(
        "product_sales",
        _product("sku", primary_key=True),
        sa.Column("orders", sa.Integer(), nullable=False),
        _at("built_at"),
    )
    op.create_index("ix_product_sales_orders_sku", "product_sales", ["orders", "sku"])
    op.create_table(
        "recommendation_exclusions",
        _product("sku", primary_key=True),
        sa.Column("excluded_by", sa.String(320), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    )
    op.create_table(
        "product_views",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("visitor_id", sa.String(64), nullable=False),
        sa.Column("email", sa.String(320)),
        _product("sku"),
        _at("viewed_at"),
        sa.Column("source_id", sa.String(64), nullable=False),
        sa.UniqueConstraint("source_id", name=op.f("uq_product_views_source_id")),
    )
    op.create_index(
        "ix_product_views_visitor_id_viewed_at", "product_views", ["visitor_id", "viewed_at"]
    )
    op.create_index(
        "ix_product_views_email_viewed_at",
        "product_views",
        ["email", "viewed_at"],
        postgresql_where=sa.text("email IS NOT NULL"),
    )
    op.create_index("ix_product_views_viewed_at", "product_views", ["viewed_at"])
    op.create_index("ix_product_views_sku", "product_views", ["sku"])


def downgrade() -> None:
    for table in (
        "product_views",
        "recommendation_exclusions",
        "product_sales",
        "product_neighbours",
    ):
        op.drop_table(table)
