"""Reading many rows of many columns, each column converted by its type's own processor, a batch at a time.

SQLAlchemy converts every value of every row through its column's processor (text to datetime on
SQLite, numbers to Decimal, integers to booleans), one Python call each, NULL included. A report
row has some fifty columns, most of them NULL for a deal not invoiced yet: at 100,000 deals that
was five million calls, a third of building the report. Here the statement is sent with its
columns untyped, so the driver's values come back as they are, and each column of a batch is
converted by the same processor, skipping NULL (which every processor leaves NULL).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa


def stream_converted(connection: sa.Connection, query: sa.Select, batch: int) -> Iterator[tuple[list[str], list]]:
    """(column names, rows as tuples of converted values), `batch` rows at a time, as the driver streams them."""
    columns = list(query.selected_columns)
    untyped = query.with_only_columns(
        *(sa.type_coerce(column, sa.types.NullType()).label(column.key) for column in columns),
        maintain_column_froms=True,
    )
    result = connection.execute(untyped, execution_options={"yield_per": batch})
    names = list(result.keys())
    dialect = connection.dialect
    # As SQLAlchemy chooses them: by the column's type and the type the driver says it sends.
    processors: list[Callable[[Any], Any] | None] = [
        column.type.dialect_impl(dialect).result_processor(dialect, described[1])
        for column, described in zip(columns, result.cursor.description, strict=True)
    ]
    for rows in result.partitions():
        converted = [
            _convert(values, process) if process else values
            for values, process in zip(zip(*rows, strict=True), processors, strict=True)
        ]
        yield names, list(zip(*converted, strict=True))


def _convert(values: tuple, process: Callable[[Any], Any]) -> tuple | list:
    """One column of a batch through its processor, NULLs left as they are.

    A column that is NULL throughout the batch (a note's fields, for deals not invoiced yet) is told by
    counting its NULLs, in C. Text (SQLite's dates and times) is converted once per distinct value: a
    batch's rows often share one (every deal pulled in one run has the same `pulled_at`); equal strings
    are the same value, so sharing the converted one changes nothing.
    """
    if values.count(None) == len(values):
        return values
    if isinstance(values[0], str):
        distinct = set(values)
        if all(type(value) is str for value in distinct if value is not None):
            converted = {value: process(value) for value in distinct if value is not None}
            converted[None] = None
            return list(map(converted.__getitem__, values))
    return [None if value is None else process(value) for value in values]
