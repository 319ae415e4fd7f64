"""CSV as Excel in pt-BR opens it: UTF-8 with BOM, `;` between fields, decimal comma, dd/mm/aaaa.

Numbers are written as plain numbers (`1234,56`, no currency sign, no thousands separator) so
that Excel and pandas read them as numbers that can be summed. Text that Excel would run as a
formula (starting with = + - @) is prefixed with an apostrophe and control characters are dropped
(reports/cells.py): names and messages come from the CRM and from Omie.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from omie_pipeline.reports.cells import spreadsheet_text
from omie_pipeline.reports.columns import Column, rows_as_records

CSV_ENCODING = "utf-8-sig"
CSV_SEPARATOR = ";"


def csv_value(value: Any, column: Column) -> str:
    """One cell as pt-BR Excel reads it: decimal comma, dd/mm/aaaa, text that could run as a formula defused."""
    if value is None:
        return ""
    if column.kind == "money":
        return f"{Decimal(value):.2f}".replace(".", ",")
    if column.kind == "date":
        return value.strftime("%d/%m/%Y") if isinstance(value, date) else str(value)
    if column.kind == "int":
        return str(int(value))
    return spreadsheet_text(str(value))


def write_csv(path: Path, rows: Iterable[Any], columns: Sequence[Column]) -> None:
    """Write `rows` under the columns' headers, `;`-separated with CRLF and a BOM, so Excel opens it in pt-BR
    without an import step.
    """
    with path.open("w", encoding=CSV_ENCODING, newline="") as handle:
        writer = csv.writer(handle, delimiter=CSV_SEPARATOR, lineterminator="\r\n")
        writer.writerow([column.header for column in columns])
        for record in rows_as_records(rows, columns):
            writer.writerow([csv_value(value, column) for value, column in zip(record, columns, strict=False)])
