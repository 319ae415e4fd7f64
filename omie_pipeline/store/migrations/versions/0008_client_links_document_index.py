"""Client links by document: linking asks, for each deal linked under its document, whether another
pending link of that document names another client, instead of grouping every link for each page.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_client_links_account_document", "client_links", ["account", "document"])


def downgrade() -> None:
    op.drop_index("ix_client_links_account_document", table_name="client_links")
