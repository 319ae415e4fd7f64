"""Invoices no longer keep document URLs: the PDF's link expires and is asked for at each download.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("invoices") as batch:
        batch.drop_column("pdf_url")
        batch.drop_column("xml_url")


def downgrade() -> None:
    with op.batch_alter_table("invoices") as batch:
        batch.add_column(sa.Column("xml_url", sa.Text(), nullable=True))
        batch.add_column(sa.Column("pdf_url", sa.Text(), nullable=True))
