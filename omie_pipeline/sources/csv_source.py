"""Deals from a CSV file exported by the CRM.

UTF-8 (with or without the BOM Excel writes), comma- or semicolon-separated (Brazilian Excel
uses `;`), a header row naming the columns. Values stay text: the CSV has no types, and dates
without an offset are left for validation to refuse.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from datetime import datetime
from operator import itemgetter
from pathlib import Path

from omie_pipeline.i18n import _
from omie_pipeline.sources.base import (
    SourceError,
    SourceRow,
    changed_since,
    source_id_for,
)
from omie_pipeline.sources.mapping import ColumnMapping, default_mapping

DELIMITERS = (",", ";", "\t")


class CsvDealSource:
    """A CSV file of deals, read again at every pull and filtered by `updated_at`."""

    def __init__(self, path: Path | str, mapping: ColumnMapping | None = None) -> None:
        self.path = Path(path).expanduser().resolve()
        self.mapping = mapping or default_mapping()

    @property
    def source_id(self) -> str:
        return source_id_for("csv", str(self.path))

    @property
    def description(self) -> str:
        return f"CSV file {self.path}"

    def read(self, since: datetime | None) -> Iterator[SourceRow]:
        try:
            handle = self.path.open(newline="", encoding="utf-8-sig")
        except OSError as error:
            raise SourceError(f"deals {self.description}: cannot be opened ({error.strerror or error})") from None
        with handle:
            try:
                yield from self._rows(handle, since)
            except UnicodeDecodeError:
                raise SourceError(f"deals {self.description}: not UTF-8 text; export it as UTF-8") from None

    def _rows(self, handle, since: datetime | None) -> Iterator[SourceRow]:
        header_line = handle.readline()
        if not header_line.strip():
            raise SourceError(f"deals {self.description}: the file is empty; a header row is expected")
        delimiter = max(DELIMITERS, key=header_line.count)
        header = [name.strip() for name in next(csv.reader([header_line], delimiter=delimiter))]
        repeated = sorted({name for name in header if header.count(name) > 1})
        if repeated:
            raise SourceError(f"deals {self.description}: column(s) {', '.join(repeated)} appear twice in the header")
        missing = self.mapping.missing_required(set(header))
        if missing:
            raise SourceError(
                f"deals {self.description}: the header lacks the column(s) for {', '.join(missing)}; "
                f"it has: {', '.join(header)}"
            )
        index = {name: position for position, name in enumerate(header)}
        wanted = {field: index.get(column) for field, column in self.mapping.columns.items()}
        cells_of = _cell_picker(wanted)
        reader = csv.reader(handle, delimiter=delimiter)
        for cells in reader:
            line = reader.line_num + 1  # the header was read before the reader started
            if not "".join(cells).strip():
                continue
            values = cells_of(cells)
            problem = None
            if len(cells) > len(header):
                problem = _(
                    "line {line} has {cells} cells but the header names {columns}: a value probably holds an "
                    "unquoted separator"
                ).format(line=line, cells=len(cells), columns=len(header))
            row = SourceRow(position=line, values=values, problem=problem)
            if changed_since(row, since):
                yield row


def _cell_picker(wanted: dict[str, int | None]) -> Callable[[list[str]], dict[str, str | None]]:
    """Field -> cell of one record, by the field's column position (None for a column the file
    lacks, or a cell a short record lacks). A record with every column is picked in one step."""
    present = {field: at for field, at in wanted.items() if at is not None}
    pick = itemgetter(*present.values())  # deal_id, status, updated_at and amount at least: a tuple
    absent = dict.fromkeys(field for field, at in wanted.items() if at is None)
    width = max(present.values()) + 1

    def cells_of(cells: list[str]) -> dict[str, str | None]:
        if len(cells) < width:
            return {field: (cells[at] if at is not None and at < len(cells) else None) for field, at in wanted.items()}
        values = dict(zip(present, pick(cells), strict=True))
        values.update(absent)
        return values

    return cells_of
