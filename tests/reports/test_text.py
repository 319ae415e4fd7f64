"""A written report read back for the terminal: money summed as Decimal, to the cent."""

from __future__ import annotations

from decimal import Decimal

import openpyxl
import pytest

from omie_pipeline.domain.money import format_brl
from omie_pipeline.reports.columns import Column
from omie_pipeline.reports.csv_export import write_csv
from omie_pipeline.reports.labels import Outcome
from omie_pipeline.reports.text import MONEY_COLUMNS, STATUS_CODE_COLUMN, UnreadableReportError, file_text
from omie_pipeline.reports.xlsx import SHEET_DEALS

COLUMNS = [Column(STATUS_CODE_COLUMN, "text", lambda row: row[0])] + [
    Column(header, "money", lambda row, index=index: row[index]) for index, header in enumerate(MONEY_COLUMNS, 1)
]
# A float sum of twenty of these is a cent off even after rounding (19753086421975.39, not .40);
# many small amounts and 0.1 + 0.2 must come out exact as well.
LARGE = Decimal("987654321098.77")
ROWS = (
    [(Outcome.ISSUED.value, LARGE, LARGE, Decimal("0"), LARGE)] * 20
    + [(Outcome.PENDING.value, Decimal("0.10"), None, None, None)] * 30
    + [
        (Outcome.PENDING.value, Decimal("0.1"), None, None, None),
        (Outcome.PENDING.value, Decimal("0.2"), None, None, None),
    ]
)


def _write(path, rows=ROWS) -> None:
    if path.suffix == ".csv":
        write_csv(path, rows, COLUMNS)
        return
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = SHEET_DEALS
    sheet.append([column.header for column in COLUMNS])
    for row in rows:
        sheet.append(list(row))
    book.save(path)


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
def test_money_read_back_is_summed_exactly(portuguese, tmp_path, suffix) -> None:
    path = tmp_path / f"report.{suffix}"
    _write(path)

    text = file_text(path)

    issued_line = next(line for line in text.splitlines() if line.strip().startswith(Outcome.ISSUED.label))
    assert issued_line.count(format_brl(LARGE * 20)) == 3  # CRM, gross and net: R$ 19.753.086.421.975,40
    pending_line = next(line for line in text.splitlines() if line.strip().startswith(Outcome.PENDING.label))
    assert format_brl(Decimal("3.30")) in pending_line  # 30 x 0,10 + 0,1 + 0,2
    assert f"Total no CRM: {format_brl(LARGE * 20 + Decimal('3.30'))}" in text


def test_a_money_cell_that_is_not_an_amount_names_the_file(tmp_path) -> None:
    path = tmp_path / "report.csv"
    header = ";".join([STATUS_CODE_COLUMN, *MONEY_COLUMNS])
    path.write_text(f"{header}\r\n{Outcome.ISSUED.value};12,3x;;;\r\n", encoding="utf-8-sig")

    with pytest.raises(UnreadableReportError, match=r"report\.csv.*'12,3x'"):
        file_text(path)
