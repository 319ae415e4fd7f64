"""Dialect-aware writes that stay correct with two concurrent writers.

Both SQLite and PostgreSQL support `INSERT ... ON CONFLICT`, so uniqueness is decided by the
database, never by a read followed by a write.
"""

from __future__ import annotations

import csv
import io
import zlib
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


@dataclass(frozen=True)
class _Prepared:
    """An upsert compiled once per table and set of columns, with the columns' own bind processors.

    SQLAlchemy builds and processes a parameter dictionary per row before handing an executemany
    to the driver; for a batch of thousands of rows that was most of the CPU a pull, a mirror
    refresh or a linking pass spends in the store. Here each column is converted as a whole, by the
    same processors. SQLite gets one executemany of tuples. PostgreSQL gets the rows by `COPY` into
    a staging table and one `INSERT ... SELECT ... ON CONFLICT` from it (`copy_into`).
    """

    sql: str  # "INSERT INTO t (a, b) VALUES (?, ?) ON CONFLICT ..." (SQLite), "... SELECT a, b FROM staged ..."
    names: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]
    staging: Staging | None  # PostgreSQL's, None on SQLite

    def execute(self, connection: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> int:
        pick = itemgetter(*self.names)
        picked = map(pick, rows) if len(self.names) > 1 else ((pick(row),) for row in rows)
        columns = [
            _converted(values, process) if process else values
            for values, process in zip(zip(*picked, strict=True), self.processors, strict=True)
        ]
        if self.staging is None:
            tuples = list(zip(*columns, strict=True))
            return connection.exec_driver_sql(self.sql, tuples).rowcount
        copy_into(connection, self.staging, columns)
        return connection.exec_driver_sql(self.sql).rowcount


class _CopyNull:
    """NULL in `copy_into`'s CSV: written unquoted as the COPY's NULL marker, where the csv module writes
    None as a quoted empty string (an empty text, to PostgreSQL). A number to the csv module (it has
    `__float__`), so that it is left unquoted, as every text is quoted."""

    __slots__ = ()

    def __float__(self) -> float:
        return 0.0

    def __str__(self) -> str:
        return COPY_NULL


COPY_NULL = "\\N"
_NULL = _CopyNull()


@dataclass(frozen=True)
class Staging:
    """A PostgreSQL staging table for one table's set of columns: what creates it and what copies into it."""

    create: str
    copy: str


def copy_into(connection: sa.Connection, staging: Staging, columns: Sequence[Sequence[Any]]) -> None:
    """Write `columns` (one sequence of values per staged column, in its order) into a staging table.

    Why COPY: psycopg2 quotes every parameter of a multi-row INSERT itself, about 0.6 microseconds of
    CPU each (a pull of 100,000 deals of 27 columns: 1.6 CPU s); the csv module writes the same values
    in a third of that and the server parses them. Texts are quoted, numbers (Decimal, int, bool) not,
    NULL is an unquoted marker; moments and dates are written in ISO form, which PostgreSQL reads as
    the column's type. The staging table holds this transaction's rows only (created `ON COMMIT DELETE
    ROWS`, per session, if missing: a pooled session keeps it) and the INSERT that follows empties it.
    """
    text = io.StringIO()
    writer = csv.writer(text, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
    shown = [[_NULL if value is None else value for value in values] for values in columns]
    writer.writerows(zip(*shown, strict=True))
    text.seek(0)
    connection.exec_driver_sql(staging.create)
    with connection.connection.cursor() as cursor:
        cursor.copy_expert(staging.copy, text)


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
    values = "VALUES (" + ", ".join([marker] * len(order)) + ")"
    head, found, tail = compiled.string.partition(values)
    if not found:
        return None
    processors = tuple(table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in order)
    if dialect.name == "sqlite":
        return _Prepared(head + values + tail, order, processors, staging=None)
    quote = dialect.identifier_preparer.quote
    name = quote(f"staged_{table.name}_{zlib.crc32(' '.join(order).encode()):08x}")
    listed = ", ".join(map(quote, order))
    staging = Staging(
        create=f"CREATE TEMPORARY TABLE IF NOT EXISTS {name} ON COMMIT DELETE ROWS "
        f"AS SELECT {listed} FROM {dialect.identifier_preparer.format_table(table)} WITH NO DATA",
        copy=f"COPY {name} ({listed}) FROM STDIN WITH (FORMAT csv, NULL '{COPY_NULL}')",
    )
    # The CTE empties the staging table as its rows go in, so that a transaction can stage again.
    consumed = f"WITH staged AS (DELETE FROM {name} RETURNING {listed}) "
    return _Prepared(f"{consumed}{head}SELECT {listed} FROM staged{tail}", order, processors, staging=staging)


def insert_if_absent(connection: sa.Connection, table: sa.Table, row: Mapping[str, Any]) -> bool:
    """Insert one row unless it collides with an existing row on any unique key; True when inserted.

    No conflict target is named on purpose: with two unique keys (an invoice's idempotency key
    and its (account, deal)), PostgreSQL raises for a race on a key that is not the target.
    """
    statement = _insert(connection, table).on_conflict_do_nothing()
    return connection.execute(statement, dict(row)).rowcount == 1
