"""The dead-letter archive, and the view of orders with reservation-confirmation errors.

``dead_letters`` keeps each message whose retries ran out past Redis's 7-day expiry.
``orders_with_reservation_errors`` is what the reconciliation page, the runbook's SQL
and the Grafana panels read; cleared errors are a JSON ``null`` (or ``[]``), so the
filter tests the type, as ``models.orders.stock_confirmation.has_confirmation_errors``.
Alembic's autogenerate does not compare views, so tests/migrations checks its columns.

Revision ID: 0005
Revises: 0008
Create Date: 2026-12-01 09:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0008"
branch_labels = None
depends_on = None

VIEW = """
CREATE VIEW orders_with_reservation_errors AS
SELECT
    id,
    order_number,
    email,
    total_cents,
    currency,
    status,
    confirmation_errors AS errors,
    confirmation_attempts AS attempts,
    needs_manual_reconciliation,
    next_confirmation_at,
    created_at,
    paid_at
FROM orders
WHERE jsonb_typeof(confirmation_errors) = 'array' AND confirmation_errors <> '[]'::jsonb
"""


def upgrade() -> None:
    op.create_table(
        "dead_letters",
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column("redis_id", sa.String(64)),
        sa.Column("queue", sa.String(128), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("args", postgresql.JSONB(), nullable=False),
        sa.Column("kwargs", postgresql.JSONB(), nullable=False),
        sa.Column("options", postgresql.JSONB(), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("traceback", sa.Text()),
        sa.Column("requeued_at", sa.DateTime(timezone=True)),
        sa.Column("purged_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("message_id", name="pk_dead_letters"),
    )
    op.create_index(
        "ix_dead_letters_queue_failed_at",
        "dead_letters",
        ["queue", "failed_at"],
        postgresql_where=sa.text("requeued_at IS NULL AND purged_at IS NULL"),
    )
    op.create_index("ix_dead_letters_redis_id", "dead_letters", ["redis_id"])
    op.execute(VIEW)


def downgrade() -> None:
    op.execute("DROP VIEW orders_with_reservation_errors")
    op.drop_index("ix_dead_letters_redis_id", table_name="dead_letters")
    op.drop_index("ix_dead_letters_queue_failed_at", table_name="dead_letters")
    op.drop_table("dead_letters")
