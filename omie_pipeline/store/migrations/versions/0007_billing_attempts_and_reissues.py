"""Each invoice counts the billings of its OS: a refused NFS-e corrected and billed again is a new
attempt, claimed (attempt number raised, `resent_at` set) before anything is sent to Omie. And
each deal counts its notes: a cancelled note reissued is kept in `reissued_invoices`, and the
deal's next note (`issue_number`) gets an OS code of its own.

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
        batch.add_column(sa.Column("issue_number", sa.Integer, nullable=False, server_default="1"))
    op.create_table(
        "reissued_invoices",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("deal_id", sa.String(128), nullable=False),
        sa.Column("issue_number", sa.Integer, nullable=False),
        sa.Column("idempotency_key", sa.String(60), nullable=False),
        sa.Column("omie_os_id", sa.BigInteger),
        sa.Column("os_number", sa.String(30)),
        sa.Column("nfse_number", sa.String(30)),
        sa.Column("verification_code", sa.String(60)),
        sa.Column("gross_amount", sa.Numeric(16, 2), nullable=False),
        sa.Column("net_amount", sa.Numeric(16, 2), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True)),
        sa.Column("cancelled_at", sa.DateTime(timezone=True)),
        sa.Column("cancel_reason", sa.Text),
        sa.Column("cancel_requested_by", sa.String(128)),
        sa.Column("reissued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reissued_by", sa.String(128), nullable=False),
        sa.UniqueConstraint("account", "deal_id", "issue_number"),
    )


def downgrade() -> None:
    op.drop_table("reissued_invoices")
    with op.batch_alter_table("invoices") as batch:
        batch.drop_column("issue_number")
        batch.drop_column("resent_at")
        batch.drop_column("billing_attempt")
