"""Consecutive faults per Omie app key and method, shared by every process of the key.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "omie_fault_streaks",
        sa.Column("app_key", sa.String(64), primary_key=True),
        sa.Column("method", sa.String(64), primary_key=True),
        sa.Column("streak", sa.Integer, nullable=False),
        sa.Column("paused_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("omie_fault_streaks")
