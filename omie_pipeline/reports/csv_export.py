"""CSV as Excel in pt-BR opens it: UTF-8 with BOM, `;` between fields, decimal comma, dd/mm/aaaa.

Numbers are written as plain numbers (`1234,56`, no currency sign, no thousands separator) so
that Excel and pandas read them as numbers that can be summed. Text that Excel would run as a
formula (starting with = + - @) is prefixed with an apostrophe and control characters are dropped
(reports/cells.py): names and messages come from the CRM and from Omie.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from omie_pipeline.reports.cells import spreadsheet_text
from omie_pipeline.reports.columns import Column

CSV_ENCODING = "utf-8-sig"
CSV_SEPARATOR = ";"


def _money(value: Any) -> str:
    return f"{Decimal(value):.2f}".replace(".", ",")


def _date(value: Any) -> str:
    return value.strftime("%d/%m/%Y") if isinstance(value, date) else str(value)


def _int(value: Any) -> str:
    return str(int(value))


def _text(value: Any) -> str:
    return spreadsheet_text(str(value))


# Each kind's cell as pt-BR Excel reads it: decimal comma, dd/mm/aaaa, text that could run as a formula defused;
# chosen once per column, not once per cell.
_WRITERS: dict[str, Callable[[Any], str]] = {"money": _money, "date": _date, "int": _int, "text": _text}


def write_csv(path: Path, rows: Iterable[Any], columns: Sequence[Column]) -> None:
    """Write `rows` under the columns' headers, `;`-separated with CRLF and a BOM, so Excel opens it in pt-BR
    without an import step. Rows are written as they come: nothing but the current row is held.
    """
    cells = [(column.get, _WRITERS[column.kind]) for column in columns]
    with path.open("w", encoding=CSV_ENCODING, newline="") as handle:
        writer = csv.writer(handle, delimiter=CSV_SEPARATOR, lineterminator="\r\n")
        writer.writerow([column.header for column in columns])
        for row in rows:
            writer.writerow(["" if (value := get(row)) is None else write(value) for get, write in cells])
