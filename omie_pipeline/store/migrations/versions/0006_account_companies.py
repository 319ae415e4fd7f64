"""The Omie company each account's keys answered for, so that crossed keys stop before any write.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_companies",
        sa.Column("account", sa.String(64), primary_key=True),
        sa.Column("app_key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("cnpj", sa.String(20), nullable=False, unique=True),
        sa.Column("company_name", sa.String(200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("account_companies")
