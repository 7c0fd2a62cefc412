"""Abandoned-cart recovery: step rows, suppressions, consent on carts, codes tied to an email.

Additive only (new tables, nullable columns, one unique constraint on ``emails`` whose
recovery rows do not exist yet), so the previous release runs unchanged beside it.

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-01 09:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0004"
branch_labels = None
depends_on = None

STEPS = "'email_1', 'push', 'email_2', 'abandon'"
STATUSES = "'pending', 'sent', 'canceled', 'skipped', 'dead'"


def upgrade() -> None:
    op.add_column("carts", sa.Column("marketing_consent_at", sa.DateTime(timezone=True)))
    op.add_column("discount_codes", sa.Column("email", sa.String(320)))
    op.create_unique_constraint("uq_emails_kind_cart_id", "emails", ["kind", "cart_id"])
    op.create_table(
        "recovery_steps",
        sa.Column("cart_id", sa.String(64), nullable=False),
        sa.Column("step", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32)),
        sa.Column("recipient", sa.String(320)),
        sa.Column("discount_code", sa.String(64)),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("canceled_at", sa.DateTime(timezone=True)),
        sa.Column("clicked_at", sa.DateTime(timezone=True)),
        sa.Column("clicks", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.CheckConstraint(f"step IN ({STEPS})", name=op.f("ck_recovery_steps_step_known")),
        sa.CheckConstraint(f"status IN ({STATUSES})", name=op.f("ck_recovery_steps_status_known")),
        sa.ForeignKeyConstraint(
            ["cart_id"],
            ["carts.id"],
            name=op.f("fk_recovery_steps_cart_id_carts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["discount_code"],
            ["discount_codes.code"],
            name=op.f("fk_recovery_steps_discount_code_discount_codes"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("cart_id", "step", name=op.f("pk_recovery_steps")),
    )
    op.create_index(
        "ix_recovery_steps_sent_at",
        "recovery_steps",
        ["sent_at"],
        postgresql_where=sa.text("sent_at IS NOT NULL"),
    )
    op.create_index("ix_recovery_steps_discount_code", "recovery_steps", ["discount_code"])
    op.create_table(
        "recovery_suppressions",
        sa.Column("email_hash", sa.String(64), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("email_hash", name=op.f("pk_recovery_suppressions")),
    )


def downgrade() -> None:
    op.drop_table("recovery_suppressions")
    op.drop_index("ix_recovery_steps_discount_code", table_name="recovery_steps")
    op.drop_index("ix_recovery_steps_sent_at", table_name="recovery_steps")
    op.drop_table("recovery_steps")
    op.drop_constraint("uq_emails_kind_cart_id", "emails", type_="unique")
    op.drop_column("discount_codes", "email")
    op.drop_column("carts", "marketing_consent_at")
