"""Typed order columns for what the code reads from metadata; carts.is_active derived.

The order keys of ``metadata`` that the code read (discount code, reservation expiry,
reservation-confirmation errors and retry state, shipment) become columns, backfilled
here; the keys stay in ``metadata`` so the previous release still reads them during the
rollout. ``next_confirmation_at`` is indexed for the retry job.

``carts.is_active`` becomes a column generated from ``status``, so it can never disagree
with it. The previous release writes ``is_active`` itself, which a generated column
refuses: run this release's ``release`` phase, then replace the web and worker processes
together (the previous release's cart writes fail until they are replaced).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 08:40:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

COLUMNS: tuple[sa.Column[Any], ...] = (
    sa.Column("discount_code", sa.String(64)),
    sa.Column("reservation_expires_at", sa.DateTime(timezone=True)),
    sa.Column("confirmation_errors", postgresql.JSONB()),
    sa.Column("confirmation_attempts", sa.Integer(), server_default="0", nullable=False),
    sa.Column("last_confirmation_at", sa.DateTime(timezone=True)),
    sa.Column("next_confirmation_at", sa.DateTime(timezone=True)),
    sa.Column("needs_manual_reconciliation", sa.Boolean(), server_default="false", nullable=False),
    sa.Column("carrier", sa.String(64)),
    sa.Column("tracking_number", sa.String(128)),
    sa.Column("shipped_at", sa.DateTime(timezone=True)),
)

BACKFILL = """
UPDATE orders SET
    discount_code = metadata->>'discount_code',
    reservation_expires_at = (metadata->>'reservation_expires_at')::timestamptz,
    confirmation_errors = CASE jsonb_typeof(metadata->'reservation_confirmation_errors')
        WHEN 'array' THEN NULLIF(metadata->'reservation_confirmation_errors', '[]'::jsonb)
        WHEN 'object' THEN NULLIF(
            jsonb_build_array(metadata->'reservation_confirmation_errors'), '[{}]'::jsonb
        )
    END,
    confirmation_attempts =
        COALESCE((metadata #>> '{reservation_confirmation_retry,attempts}')::int, 0),
    last_confirmation_at =
        (metadata #>> '{reservation_confirmation_retry,last_attempt_at}')::timestamptz,
    needs_manual_reconciliation =
        COALESCE((metadata->>'needs_manual_reconciliation')::boolean, false),
    carrier = metadata #>> '{shipment,carrier}',
    tracking_number = metadata #>> '{shipment,tracking_number}',
    shipped_at = (metadata #>> '{shipment,shipped_at}')::timestamptz
WHERE metadata ?| array[
    'discount_code', 'reservation_expires_at', 'reservation_confirmation_errors',
    'reservation_confirmation_retry', 'needs_manual_reconciliation', 'shipment'
]
"""

# The retry job's old rule: the next attempt stored, else five minutes after the change.
NEXT_CONFIRMATION = """
UPDATE orders SET next_confirmation_at = COALESCE(
    (metadata #>> '{reservation_confirmation_retry,next_attempt_at}')::timestamptz,
    updated_at + interval '5 minutes'
)
WHERE confirmation_errors IS NOT NULL AND NOT needs_manual_reconciliation
"""


def upgrade() -> None:
    for column in COLUMNS:
        op.add_column("orders", column)
    op.execute(BACKFILL)
    op.execute(NEXT_CONFIRMATION)
    op.create_index(
        "ix_orders_next_confirmation_at",
        "orders",
        ["next_confirmation_at"],
        postgresql_where=sa.text("next_confirmation_at IS NOT NULL"),
    )
    op.drop_column("carts", "is_active")
    op.add_column(
        "carts",
        sa.Column("is_active", sa.Boolean(), sa.Computed("status = 'active'", persisted=True)),
    )


def downgrade() -> None:
    op.drop_column("carts", "is_active")
    op.add_column(
        "carts", sa.Column("is_active", sa.Boolean(), server_default="true", nullable=False)
    )
    op.execute("UPDATE carts SET is_active = (status = 'active')")
    op.alter_column("carts", "is_active", server_default=None)
    op.drop_index("ix_orders_next_confirmation_at", table_name="orders")
    for column in reversed(COLUMNS):
        op.drop_column("orders", column.name)
