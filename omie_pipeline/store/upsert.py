"""Dialect-aware writes that stay correct with two concurrent writers.

Both SQLite and PostgreSQL support `INSERT ... ON CONFLICT`, so uniqueness is decided by the
database, never by a read followed by a write.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import psycopg2


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
    columns = list(update_columns) if update_columns is not None else [c for c in rows[0] if c not in keys]
    if len(rows) > 1:
        prepared = _prepared(connection.dialect, table, tuple(rows[0]), tuple(keys), tuple(columns))
        if prepared is not None:
            return prepared.execute(connection, rows)
    statement = _insert(connection, table)
    if columns:
        statement = statement.on_conflict_do_update(
            index_elements=keys, set_={name: statement.excluded[name] for name in columns}
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=keys)
    return connection.execute(statement, list(rows)).rowcount


PAGE_ROWS = 1000
"""Rows per multi-row INSERT on PostgreSQL (at most 65,535 parameters a statement)."""


@dataclass(frozen=True)
class _Prepared:
    """An upsert compiled once per table and set of columns, with the columns' own bind processors.

    SQLAlchemy builds and processes a parameter dictionary per row before handing an executemany
    to the driver; for a batch of thousands of rows that was most of the CPU a pull, a mirror
    refresh or a linking pass spends in the store. Here each column is converted as a whole, by the
    same processors. SQLite gets one executemany of tuples. PostgreSQL gets pages of multi-row
    VALUES: SQLAlchemy sends an executemany of an `ON CONFLICT` insert one row per round trip (it
    leaves such inserts out of its own multi-row batching), about 55 microseconds of CPU a row.
    """

    head: str  # up to and with "VALUES "
    row: str  # one row's placeholders
    tail: str  # " ON CONFLICT ..."
    names: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]
    many: bool  # the driver's executemany (SQLite), else pages of multi-row VALUES

    def execute(self, connection: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> int:
        pick = itemgetter(*self.names)
        picked = map(pick, rows) if len(self.names) > 1 else ((pick(row),) for row in rows)
        columns = [
            _converted(values, process) if process else values
            for values, process in zip(zip(*picked, strict=True), self.processors, strict=True)
        ]
        tuples = list(zip(*columns, strict=True))
        if self.many:
            return connection.exec_driver_sql(self.head + self.row + self.tail, tuples).rowcount
        page = max(1, min(PAGE_ROWS, 65_535 // len(self.names)))
        written = 0
        for start in range(0, len(tuples), page):
            chunk = tuples[start : start + page]
            sql = self.head + ", ".join([self.row] * len(chunk)) + self.tail
            written += connection.exec_driver_sql(sql, tuple(value for row in chunk for value in row)).rowcount
        return written


def _converted(values: Sequence[Any], process: Callable[[Any], Any]) -> list[Any]:
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
    """The upsert of rows holding `names`; None on another database, or when its binds are not
    exactly those columns (a column default SQLAlchemy would fill in): SQLAlchemy's path does those."""
    if dialect.name == "sqlite":
        module, positional = sqlite, dialect
    elif dialect.name == "postgresql" and dialect.driver == "psycopg2":
        module, positional = postgresql, psycopg2.dialect(paramstyle="format")
    else:
        return None
    statement = module.insert(table)
    if updates:
        statement = statement.on_conflict_do_update(
            index_elements=list(keys), set_={name: statement.excluded[name] for name in updates}
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=list(keys))
    compiled = statement.compile(dialect=positional, column_keys=list(names))
    order = tuple(compiled.positiontup or ())
    if sorted(order) != sorted(names):
        return None
    marker = "?" if dialect.name == "sqlite" else "%s"
    row = "(" + ", ".join([marker] * len(order)) + ")"
    head, found, tail = compiled.string.partition(f"VALUES {row}")
    if not found:
        return None
    processors = tuple(table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in order)
    return _Prepared(head + "VALUES ", row, tail, order, processors, many=dialect.name == "sqlite")


def insert_if_absent(connection: sa.Connection, table: sa.Table, row: Mapping[str, Any]) -> bool:
    """Insert one row unless it collides with an existing row on any unique key; True when inserted.

    No conflict target is named on purpose: with two unique keys (an invoice's idempotency key
    and its (account, deal)), PostgreSQL raises for a race on a key that is not the target.
    """
    statement = _insert(connection, table).on_conflict_do_nothing()
    return connection.execute(statement, dict(row)).rowcount == 1
