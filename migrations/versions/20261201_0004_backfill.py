"""Stripe events backfill: the inbox row's source and refusal reason, the cursor table.

``webhook_events.source`` tells a webhook delivery from an event the Events API
backfill stored; ``reason`` (with the ``order_id`` checked against) marks an event that
is never applied (a mismatch with its order, the other Stripe mode). Both are additive:
the previous release keeps writing rows, which get ``source = 'webhook'``.

Revision ID: 0004
Revises: 0005
Create Date: 2026-12-01 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "webhook_events",
        sa.Column("source", sa.String(16), server_default="webhook", nullable=False),
    )
    op.add_column("webhook_events", sa.Column("reason", sa.String(32)))
    op.add_column("webhook_events", sa.Column("order_id", sa.Uuid()))
    op.create_foreign_key(
        op.f("fk_webhook_events_order_id_orders"),
        "webhook_events",
        "orders",
        ["order_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_check_constraint(
        op.f("ck_webhook_events_source_known"),
        "webhook_events",
        "source IN ('webhook', 'backfill')",
    )
    op.create_index(
        "ix_webhook_events_reason_received_at",
        "webhook_events",
        ["reason", "received_at"],
        postgresql_where=sa.text("reason IS NOT NULL"),
    )
    op.create_table(
        "stripe_backfill_cursors",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("position", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.String(255), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_stripe_backfill_cursors")),
    )


def downgrade() -> None:
    op.drop_table("stripe_backfill_cursors")
    op.drop_index("ix_webhook_events_reason_received_at", table_name="webhook_events")
    op.drop_constraint(op.f("ck_webhook_events_source_known"), "webhook_events", type_="check")
    op.drop_constraint(
        op.f("fk_webhook_events_order_id_orders"), "webhook_events", type_="foreignkey"
    )
    for column in ("order_id", "reason", "source"):
        op.drop_column("webhook_events", column)
