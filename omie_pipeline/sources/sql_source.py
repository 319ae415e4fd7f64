"""Deals from any database SQLAlchemy reaches: a table, a view, or a query.

Incremental pulls filter in the database when they can: on a table or view whose `updated_at`
column is a date-time type (except on SQLite, which keeps dates as text of any shape), and in a
query that uses the `:since` parameter itself. Otherwise rows are filtered after reading, which is
correct but reads the whole table; results are streamed either way.

Values come back as the driver gives them. Two are adjusted before validation: a float (a REAL
or double column) becomes the Decimal of its shortest text, which is the amount as it was typed,
and a date-time without an offset (a `timestamp` column, or SQLite's text) is placed in the
mapping's `naive_timezone` when one is set; without it, it is a validation issue.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from omie_pipeline.dburl import driver_message, normalise_url
from omie_pipeline.sources.base import (
    SourceError,
    SourceRow,
    changed_since,
    source_id_for,
)
from omie_pipeline.sources.mapping import ColumnMapping, default_mapping

DATETIME_FIELDS = ("closed_at", "updated_at")
STREAM_BATCH = 1000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_QUERY_START = re.compile(r"^\s*(select|with)\b", re.IGNORECASE)
_SINCE_PARAMETER = re.compile(r"(?<![:\w]):since\b")


def is_query(table: str) -> bool:
    return bool(_QUERY_START.match(table))


class SqlDealSource:
    """A table, view (`schema.name` allowed) or SELECT query in a SQLAlchemy database."""

    def __init__(self, url: str, table: str, mapping: ColumnMapping | None = None) -> None:
        if not table or not table.strip():
            raise SourceError("deals SQL source: SALESOS_DEALS_TABLE (a table, view or query) is required")
        try:
            self.url = normalise_url(url)
        except sa.exc.ArgumentError:
            raise SourceError(
                "deals SQL source: SALESOS_DEALS_URL is neither a SQLAlchemy URL nor a .csv path"
            ) from None
        self.table = table.strip()
        self.mapping = mapping or default_mapping()

    @property
    def source_id(self) -> str:
        return source_id_for("sql", self.url.render_as_string(hide_password=True), self.table)

    @property
    def description(self) -> str:
        what = "query" if is_query(self.table) else f"table {self.table}"
        return f"SQL {what} at {self.url.render_as_string(hide_password=True)}"

    def read(self, since: datetime | None) -> Iterator[SourceRow]:
        """Rows changed since `since`; the database connection lasts as long as the reading."""
        try:
            engine = sa.create_engine(self.url)
        except (sa.exc.SQLAlchemyError, ImportError) as error:
            raise SourceError(
                f"deals {self.description}: no database driver for {self.url.drivername} ({error}); install it"
            ) from None
        try:
            statement, parameters, filtered_in_database = self._statement(engine, since)
            with engine.connect() as connection:
                result = connection.execution_options(stream_results=True, yield_per=STREAM_BATCH).execute(
                    statement, parameters
                )
                self._check_columns(set(result.keys()))
                for position, record in enumerate(result.mappings(), start=1):
                    row = SourceRow(position=position, values=self._values(record))
                    if filtered_in_database or changed_since(row, since):
                        yield row
        except sa.exc.SQLAlchemyError as error:
            raise SourceError(f"deals {self.description}: {type(error).__name__}: {driver_message(error)}") from None
        finally:
            engine.dispose()

    def _statement(self, engine: sa.Engine, since: datetime | None) -> tuple[sa.Executable, dict[str, Any], bool]:
        if is_query(self.table):
            if _SINCE_PARAMETER.search(self.table):
                return sa.text(self.table), {"since": since or EPOCH}, True
            return sa.text(self.table), {}, False
        schema, _, name = self.table.rpartition(".")
        try:
            table = sa.Table(name, sa.MetaData(), schema=schema or None, autoload_with=engine)
        except sa.exc.NoSuchTableError:
            raise SourceError(f"deals {self.description}: no such table or view") from None
        self._check_columns(set(table.columns.keys()))
        # Plain, untyped columns: values come back exactly as the driver reads them.
        names = sorted({column for column in self.mapping.columns.values() if column in table.columns})
        plain = sa.table(name, *(sa.column(column) for column in names), schema=schema or None)
        statement = sa.select(*plain.columns)
        bound = self._since_bound(engine, table.columns[self.mapping.column_of("updated_at")], since)
        if bound is None:
            return statement, {}, since is None
        updated = plain.columns[self.mapping.column_of("updated_at")]
        return (
            statement.where(updated >= sa.bindparam("since", type_=sa.DateTime(timezone=bound.tzinfo is not None))),
            {"since": bound},
            True,
        )

    def _since_bound(self, engine: sa.Engine, column: sa.Column, since: datetime | None) -> datetime | None:
        """The value to compare the column with in SQL, or None to filter after reading."""
        if since is None or engine.dialect.name == "sqlite" or not isinstance(column.type, sa.DateTime):
            return None
        if column.type.timezone:
            return since
        if self.mapping.naive_timezone is None:
            return None  # its values will be refused anyway; reading them all reports every one
        return since.astimezone(self.mapping.naive_timezone).replace(tzinfo=None)

    def _check_columns(self, available: set[str]) -> None:
        missing = self.mapping.missing_required(available)
        if missing:
            raise SourceError(
                f"deals {self.description}: no column for {', '.join(missing)}; it has: {', '.join(sorted(available))}"
            )

    def _values(self, record: Any) -> dict[str, Any]:
        values = {}
        for field, column in self.mapping.columns.items():
            value = record.get(column)
            if isinstance(value, float):
                value = Decimal(repr(value))
            elif field in DATETIME_FIELDS and self.mapping.naive_timezone is not None:
                value = _placed(value, self.mapping.naive_timezone)
            values[field] = value
        return values


def _placed(value: Any, zone: ZoneInfo) -> Any:
    """A date-time without offset (a driver's datetime, or text as SQLite keeps it) placed in `zone`."""
    moment = value
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            return value  # left for validation to report
    if isinstance(moment, datetime) and moment.tzinfo is None:
        return moment.replace(tzinfo=zone)
    return value
