"""When each email was last attempted, so a sweep can tell a retry chain that was lost.

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-01 10:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("emails", sa.Column("last_attempt_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("emails", "last_attempt_at")
