"""Dialect-aware writes that stay correct with two concurrent writers.

Both SQLite and PostgreSQL support `INSERT ... ON CONFLICT`, so uniqueness is decided by the
database, never by a read followed by a write.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
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
    if connection.dialect.name == "sqlite" and len(rows) > 1:
        prepared = _prepared(connection.dialect, table, tuple(rows[0]), tuple(keys), tuple(columns))
        if prepared is not None:
            return prepared.execute(connection, rows)
    return connection.execute(statement, list(rows)).rowcount


@dataclass(frozen=True)
class _Prepared:
    """An upsert compiled once for SQLite, with the columns' own bind processors in bind order.

    SQLAlchemy builds and processes a parameter dictionary per row before handing an executemany
    to the driver; for a batch of thousands of rows that was most of the CPU a pull, a mirror
    refresh or a linking pass spends in the store. Here each column is converted as a whole, by the
    same processors, and the driver gets the tuples. PostgreSQL keeps SQLAlchemy's path, which
    sends the rows as pages of multi-row VALUES.
    """

    sql: str
    names: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]

    def execute(self, connection: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> int:
        columns = []
        for name, process in zip(self.names, self.processors, strict=True):
            values = [row[name] for row in rows]
            columns.append(_converted(values, process) if process else values)
        return connection.exec_driver_sql(self.sql, list(zip(*columns, strict=True))).rowcount


def _converted(values: list[Any], process: Callable[[Any], Any]) -> list[Any]:
    """`process` of each value, once per distinct value when most repeat (the moment of a run)."""
    try:
        distinct = dict.fromkeys(values)
    except TypeError:  # an unhashable value (a JSON document)
        return [process(value) for value in values]
    if len(distinct) * 2 > len(values):
        return [process(value) for value in values]
    once = {value: process(value) for value in distinct}
    return [once[value] for value in values]


@lru_cache(maxsize=256)
def _prepared(
    dialect: sa.Dialect, table: sa.Table, names: tuple[str, ...], keys: tuple[str, ...], updates: tuple[str, ...]
) -> _Prepared | None:
    """The upsert of rows holding `names`; None when its binds are not exactly those columns (a
    column default SQLAlchemy would fill in), which SQLAlchemy's own path then handles."""
    statement = sqlite.insert(table)
    if updates:
        statement = statement.on_conflict_do_update(
            index_elements=list(keys), set_={name: statement.excluded[name] for name in updates}
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=list(keys))
    compiled = statement.compile(dialect=dialect, column_keys=list(names))
    order = tuple(compiled.positiontup or ())
    if sorted(order) != sorted(names):
        return None
    processors = tuple(table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in order)
    return _Prepared(compiled.string, order, processors)


def insert_if_absent(connection: sa.Connection, table: sa.Table, row: Mapping[str, Any]) -> bool:
    """Insert one row unless it collides with an existing row on any unique key; True when inserted.

    No conflict target is named on purpose: with two unique keys (an invoice's idempotency key
    and its (account, deal)), PostgreSQL raises for a race on a key that is not the target.
    """
    statement = _insert(connection, table).on_conflict_do_nothing()
    return connection.execute(statement, dict(row)).rowcount == 1
