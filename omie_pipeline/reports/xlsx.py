"""The Excel workbook: Summary, Deals, Exceptions and Open sheets, named in the reader's language.

Money cells hold numbers formatted `"R$" #,##0.00` and dates hold dates formatted dd/mm/yyyy, so
finance can sum, filter and pivot them; every table sheet has a frozen, filterable header row.
Text cells never hold a control character or a live formula (reports/cells.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from omie_pipeline.domain.timeutil import to_sao_paulo
from omie_pipeline.i18n import N_, _, format_moment
from omie_pipeline.reports.cells import spreadsheet_text
from omie_pipeline.reports.columns import (
    Column,
    deal_columns,
    exception_columns,
)
from omie_pipeline.reports.labels import stage_label
from omie_pipeline.reports.model import Report

MONEY_FORMAT = '"R$" #,##0.00'
DATE_FORMAT = "dd/mm/yyyy"
INT_FORMAT = "0"
# Sheet names (English source text, translated when the workbook is written).
SHEET_SUMMARY = N_("Summary")
SHEET_DEALS = N_("Deals")
SHEET_EXCEPTIONS = N_("Exceptions")
SHEET_OPEN_ITEMS = N_("Open")
MAX_LISTED_DEALS = 200

_HEADER_FONT = Font(bold=True, color="FFFFFF")
_HEADER_FILL = PatternFill("solid", fgColor="12355B")
_TITLE_FONT = Font(bold=True, size=14, color="12355B")
_SECTION_FONT = Font(bold=True, size=12, color="12355B")
_TOTAL_FONT = Font(bold=True)
_TOTAL_BORDER = Border(top=Side(style="thin", color="90A4AE"))
_FORMATS = {"money": MONEY_FORMAT, "date": DATE_FORMAT, "int": INT_FORMAT}
_HEADER_ALIGNMENT = Alignment(wrap_text=True, vertical="center")


def _cell_value(value: Any) -> Any:
    """Text made safe for a cell (reports/cells.py); numbers and dates as they are."""
    return spreadsheet_text(value) if isinstance(value, str) else value


def _styled(
    sheet: WriteOnlyWorksheet,
    value: Any,
    number_format: str | None = None,
    font: Font | None = None,
    fill: PatternFill | None = None,
    border: Border | None = None,
    alignment: Alignment | None = None,
) -> Any:
    """A cell for a write-only sheet: the bare value when it has no style (cheapest), else a styled cell."""
    if not (number_format or font or fill or border or alignment) or value is None and not (font or fill or border):
        return _cell_value(value)
    cell = WriteOnlyCell(sheet, value=_cell_value(value))
    if number_format:
        cell.number_format = number_format
    if font:
        cell.font = font
    if fill:
        cell.fill = fill
    if border:
        cell.border = border
    if alignment:
        cell.alignment = alignment
    return cell


def _cell_maker(sheet: WriteOnlyWorksheet, column: Column) -> Callable[[Any], Any]:
    """How one column's values become cells, decided once per column rather than once per cell: text made safe,
    a money, date or integer value in a cell carrying its number format, an empty value left out."""
    number_format = _FORMATS.get(column.kind)
    if number_format is None:
        return _cell_value

    # One cell per column, given each row's value: a write-only sheet writes a row out as it is appended, so the
    # cell is free again for the next row, and styling one cell per row cost more than writing it.
    cell = WriteOnlyCell(sheet)
    cell.number_format = number_format

    def formatted(value: Any) -> Any:
        if value is None:
            return None
        cell.value = value
        return cell

    return formatted


def _table_sheet(sheet: WriteOnlyWorksheet, rows: Sequence[Any], columns: Sequence[Column]) -> None:
    """A filterable table: widths, frozen header and filter are set before the rows stream out."""
    for index, column in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    sheet.row_dimensions[1].height = 32
    sheet.freeze_panes = "B2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{max(1, len(rows) + 1)}"
    sheet.append(
        [
            _styled(sheet, column.header, font=_HEADER_FONT, fill=_HEADER_FILL, alignment=_HEADER_ALIGNMENT)
            for column in columns
        ]
    )
    cells = [(column.get, _cell_maker(sheet, column)) for column in columns]
    for row in rows:
        sheet.append([make(get(row)) for get, make in cells])


class _SummaryWriter:
    """Writes the summary's tables one under another, each with a bold title and header."""

    def __init__(self, sheet: WriteOnlyWorksheet) -> None:
        self.sheet = sheet

    def line(
        self,
        values: Sequence[Any],
        formats: Sequence[str | None] = (),
        font: Font | None = None,
        border: Border | None = None,
        fill: PatternFill | None = None,
    ) -> None:
        padded = list(formats) + [None] * (len(values) - len(formats))
        self.sheet.append(
            [
                _styled(self.sheet, value, number_format, font, fill, border)
                for value, number_format in zip(values, padded, strict=False)
            ]
        )

    def table(
        self,
        title: str,
        headers: Sequence[str],
        rows: Sequence[Sequence[Any]],
        formats: Sequence[str | None],
        total: Sequence[Any] | None = None,
    ) -> None:
        self.sheet.append([])
        self.line([title], font=_SECTION_FONT)
        self.line(headers, font=_HEADER_FONT, fill=_HEADER_FILL)
        for values in rows:
            self.line(values, formats)
        if total is not None:
            self.line(total, formats, font=_TOTAL_FONT, border=_TOTAL_BORDER)


def _deal_list(items: Sequence[Any]) -> str | None:
    """The deals behind a line, cut short well before Excel's 32,767 characters per cell."""
    if not items:
        return None
    shown = ", ".join(item.deal_id for item in items[:MAX_LISTED_DEALS])
    extra = len(items) - MAX_LISTED_DEALS
    more = _(" and {count} more (see the {sheet} sheet)").format(count=extra, sheet=_(SHEET_DEALS))
    return shown + (more if extra > 0 else "")


def _summary_sheet(sheet: WriteOnlyWorksheet, report: Report) -> None:
    summary = report.summary
    for letter, width in zip("ABCDEFG", (44, 26, 22, 22, 22, 24, 22), strict=False):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = "A3"
    writer = _SummaryWriter(sheet)
    writer.line(
        [
            _("Financial reconciliation · account {account} · deals closed on {period}").format(
                account=report.account, period=report.period_label
            )
        ],
        font=_TITLE_FONT,
    )
    writer.line(
        [
            _("Generated on {moment} (Brasília time). CPFs masked; amounts in reais.").format(
                moment=format_moment(to_sao_paulo(report.generated_at))
            )
        ]
    )
    money, count = MONEY_FORMAT, INT_FORMAT
    writer.table(
        _("Totals"),
        [_("Indicator"), _("Deals"), _("Amount")],
        [
            [_("Closed in the CRM"), summary.closed_count, summary.closed_amount],
            [_("Invoiced (invoices sent to Omie)"), summary.invoiced_count, summary.invoiced_amount],
            [_("Issued (valid NFS-e)"), summary.issued_count, summary.issued_amount],
            [_("Withheld by the clients (issued)"), None, summary.withheld_issued],
            [_("Net receivable (issued)"), None, summary.net_issued],
            [_("Deals with an exception"), summary.exceptions_count, None],
            [_("Open (every day)"), summary.open_count, summary.open_amount],
        ],
        [None, count, money],
    )
    writer.table(
        _("By status"),
        [
            _("Status"),
            _("Code"),
            _("Deals"),
            _("Amount in the CRM"),
            _("Invoices' gross amount"),
            _("Withheld"),
            _("Net receivable"),
        ],
        [
            [
                line.outcome.label,
                line.outcome.value,
                line.count,
                line.crm_amount,
                line.gross,
                line.withheld_receivable,
                line.net_receivable,
            ]
            for line in summary.by_status
        ],
        [None, None, count, money, money, money, money],
        total=[
            _("Total"),
            None,
            summary.closed_count,
            summary.closed_amount,
            summary.invoiced_amount,
            summary.withheld_issued,
            summary.net_issued,
        ],
    )
    writer.table(
        _("CRM × invoices reconciliation"),
        [_("Line"), _("Kind"), _("Deals"), _("Amount"), _("Deals behind the line")],
        [
            [
                line.label,
                _("total") if line.kind == "total" else _("difference"),
                line.count,
                line.amount,
                _deal_list(line.items),
            ]
            for line in summary.bridge
        ],
        [None, None, count, money, None],
    )
    writer.table(
        _("Taxes"),
        [
            _("Tax"),
            _("Code"),
            _("Stated (issued)"),
            _("Withheld by the client"),
            _("Invoices with withholding"),
            _("Expected (in processing)"),
        ],
        [
            [tax.label, tax.tax, tax.amount_issued, tax.withheld_issued, tax.notes_withheld, tax.amount_in_progress]
            for tax in summary.taxes
        ],
        [None, None, money, money, count, money],
        total=[
            _("Total"),
            None,
            sum(tax.amount_issued for tax in summary.taxes),
            sum(tax.withheld_issued for tax in summary.taxes),
            None,
            sum(tax.amount_in_progress for tax in summary.taxes),
        ],
    )
    writer.table(
        _("Ageing of open items (every day)"),
        [_("Days open"), _("Items"), _("Amount")],
        [[bucket.label, bucket.count, bucket.amount] for bucket in summary.aging],
        [None, count, money],
        total=[_("Total"), summary.open_count, summary.open_amount],
    )
    writer.table(
        _("Exceptions by reason"),
        [_("Stage"), _("Reason"), _("Reason code"), _("Deals"), _("Amount"), _("How to fix")],
        [
            [stage_label(group.stage), group.label, group.reason, group.count, group.amount, group.fix]
            for group in summary.reasons
        ],
        [None, None, None, count, money, None],
    )


def write_xlsx(path: Path, report: Report) -> None:
    """Write the workbook finance opens: the summary sheet, then deals, exceptions and open items as filterable
    tables.
    """
    workbook = Workbook(write_only=True)  # streamed: memory and time grow with the rows, not the styles
    _summary_sheet(workbook.create_sheet(_(SHEET_SUMMARY)), report)
    columns = deal_columns(report.tax_names)
    _table_sheet(workbook.create_sheet(_(SHEET_DEALS)), report.deals, columns)
    _table_sheet(workbook.create_sheet(_(SHEET_EXCEPTIONS)), report.exceptions, exception_columns())
    _table_sheet(workbook.create_sheet(_(SHEET_OPEN_ITEMS)), report.open_items, columns)
    workbook.save(path)
