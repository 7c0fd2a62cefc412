"""Warehouses, the stock rows' foreign key to them, shipments, ``partially_shipped``.

The previous release keeps running on this schema: stock rows keep their warehouse
column; every warehouse code they already name becomes a warehouse row (``main``, the
default one, in any case), so existing stock and reservations stay where they are and
that release's writes to ``main`` keep working. New tables only otherwise, and the
orders' status check is loosened without rescanning the table (``NOT VALID``: the old,
stricter check held on every row).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 17:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

OLD_STATUSES = (
    "'pending_payment', 'paid', 'payment_failed', 'canceled', 'shipped', "
    "'refunded', 'partially_refunded'"
)
NEW_STATUSES = (
    "'pending_payment', 'paid', 'payment_failed', 'canceled', 'partially_shipped', "
    "'shipped', 'refunded', 'partially_refunded'"
)


def _created_at() -> sa.Column:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
    )


def _orders_status_check(statuses: str, *, not_valid: bool) -> None:
    op.drop_constraint(op.f("ck_orders_status_known"), "orders", type_="check")
    op.execute(
        f"ALTER TABLE orders ADD CONSTRAINT ck_orders_status_known CHECK (status IN ({statuses}))"
        + (" NOT VALID" if not_valid else "")
    )


def upgrade() -> None:
    op.create_table(
        "warehouses",
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("postal_code", sa.String(16)),
        sa.Column("latitude", sa.Float()),
        sa.Column("longitude", sa.Float()),
        sa.Column("priority", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "ships_to",
            postgresql.ARRAY(sa.String(2)),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("low_stock_threshold", sa.Integer(), server_default=sa.text("5"), nullable=False),
        _created_at(),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "latitude BETWEEN -90 AND 90", name=op.f("ck_warehouses_latitude_range")
        ),
        sa.CheckConstraint(
            "longitude BETWEEN -180 AND 180", name=op.f("ck_warehouses_longitude_range")
        ),
        sa.CheckConstraint(
            "low_stock_threshold >= 0", name=op.f("ck_warehouses_low_stock_threshold_not_negative")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_warehouses")),
    )
    # The store's one stock location so far: it ships everywhere (ships_to empty) and its
    # location is unknown until an operator sets it, so priority alone ranks it.
    op.execute(
        "INSERT INTO warehouses (code, name, country) VALUES ('main', 'Main warehouse', 'US')"
    )
    op.execute(
        "INSERT INTO warehouses (code, name, country) "
        "SELECT DISTINCT warehouse, warehouse, 'US' FROM stock_levels "
        "ON CONFLICT (code) DO NOTHING"
    )
    op.create_foreign_key(
        op.f("fk_stock_levels_warehouse_warehouses"),
        "stock_levels",
        "warehouses",
        ["warehouse"],
        ["code"],
    )
    op.create_table(
        "shipments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("warehouse", sa.String(64), nullable=False),
        sa.Column("items", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("carrier", sa.String(64)),
        sa.Column("tracking_number", sa.String(128)),
        sa.Column("shipped_at", sa.DateTime(timezone=True)),
        _created_at(),
        sa.CheckConstraint(
            "status IN ('pending', 'shipped')", name=op.f("ck_shipments_status_known")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_shipments_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["warehouse"], ["warehouses.code"], name=op.f("fk_shipments_warehouse_warehouses")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipments")),
        sa.UniqueConstraint("order_id", "warehouse", name=op.f("uq_shipments_order_id_warehouse")),
    )
    op.create_index("ix_shipments_warehouse", "shipments", ["warehouse"])
    _orders_status_check(NEW_STATUSES, not_valid=True)


def downgrade() -> None:
    op.execute("UPDATE orders SET status = 'paid' WHERE status = 'partially_shipped'")
    _orders_status_check(OLD_STATUSES, not_valid=False)
    op.drop_index("ix_shipments_warehouse", table_name="shipments")
    op.drop_table("shipments")
    op.drop_constraint(
        op.f("fk_stock_levels_warehouse_warehouses"), "stock_levels", type_="foreignkey"
    )
    op.drop_table("warehouses")
