"""Each invoice counts the billings of its OS: a refused NFS-e corrected and billed again is a new
attempt, claimed (attempt number raised, `resent_at` set) before anything is sent to Omie.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("invoices") as batch:
        batch.add_column(sa.Column("billing_attempt", sa.Integer, nullable=False, server_default="1"))
        batch.add_column(sa.Column("resent_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("invoices") as batch:
        batch.drop_column("resent_at")
        batch.drop_column("billing_attempt")
