"""Invoice ids are never reused: on SQLite the table is rebuilt with AUTOINCREMENT, so an id freed by a
deleted row (an intent dropped, a cancelled note set aside) never names a newer invoice that a run
still holding the old id could then write to. PostgreSQL's sequence never reused them.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("invoices", recreate="always", table_kwargs={"sqlite_autoincrement": True}):
            pass


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("invoices", recreate="always", table_kwargs={"sqlite_autoincrement": False}):
            pass
