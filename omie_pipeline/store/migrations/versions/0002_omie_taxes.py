"""Omie's computed taxes beside the invoice's own, and what Omie's client records lack for billing.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

MONEY = sa.Numeric(16, 2)


def upgrade() -> None:
    op.add_column("omie_clients", sa.Column("billing_gaps", sa.String(length=200), nullable=True))
    op.create_table(
        "omie_tax_figures",
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("deal_id", sa.String(length=128), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("iss_base", MONEY, nullable=True),
        *[sa.Column(f"{name}_amount", MONEY, nullable=True) for name in ("iss", "pis", "cofins", "csll", "ir", "inss")],
        sa.Column("net_amount", MONEY, nullable=True),
        sa.Column("reform", sa.Text(), nullable=True),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account", "deal_id", name=op.f("pk_omie_tax_figures")),
    )


def downgrade() -> None:
    op.drop_table("omie_tax_figures")
    with op.batch_alter_table("omie_clients") as batch:
        batch.drop_column("billing_gaps")
