"""Dialect-aware writes that stay correct with two concurrent writers.

Both SQLite and PostgreSQL support `INSERT ... ON CONFLICT`, so uniqueness is decided by the
database, never by a read followed by a write.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite


def _insert(connection: sa.Connection, table: sa.Table):
    module = postgresql if connection.dialect.name == "postgresql" else sqlite
    return module.insert(table)


def upsert(
    connection: sa.Connection,
    table: sa.Table,
    rows: Sequence[Mapping[str, Any]],
    key_columns: Iterable[str],
    update_columns: Iterable[str] | None = None,
) -> int:
    """Insert rows, updating `update_columns` (default: every non-key column given) on conflict."""
    if not rows:
        return 0
    keys = list(key_columns)
    statement = _insert(connection, table)
    columns = update_columns if update_columns is not None else [c for c in rows[0] if c not in keys]
    updates = {name: statement.excluded[name] for name in columns}
    if updates:
        statement = statement.on_conflict_do_update(index_elements=keys, set_=updates)
    else:
        statement = statement.on_conflict_do_nothing(index_elements=keys)
    return connection.execute(statement, list(rows)).rowcount


def insert_if_absent(connection: sa.Connection, table: sa.Table, row: Mapping[str, Any]) -> bool:
    """Insert one row unless it collides with an existing row on any unique key; True when inserted.

    No conflict target is named on purpose: with two unique keys (an invoice's idempotency key
    and its (account, deal)), PostgreSQL raises for a race on a key that is not the target.
    """
    statement = _insert(connection, table).on_conflict_do_nothing()
    return connection.execute(statement, dict(row)).rowcount == 1
