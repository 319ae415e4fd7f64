"""The report as plain text for a terminal: a built report, or one read back from its CSV or XLSX.

Reading a written file back uses pandas the way finance's spreadsheet does (`;`, decimal comma,
BOM), so what the terminal shows is what the file holds. Money columns are read cell by cell as
Decimal and summed as Decimal: a float sum drifts by whole cents on large totals. A file's headers
are in the language of the process that wrote it, which need not be the reader's: the file's
language is told by its headers, and what is printed is in the reader's.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pandas as pd

from omie_pipeline.i18n import LANGUAGES, N_, _, current_language, format_money, ngettext, using_language
from omie_pipeline.reports.csv_export import CSV_ENCODING, CSV_SEPARATOR
from omie_pipeline.reports.labels import OUTCOME_ORDER, Outcome, stage_label
from omie_pipeline.reports.model import Report
from omie_pipeline.reports.xlsx import SHEET_DEALS

# The columns read back, as `reports.columns` names them (English source text, translated in the file).
DEAL_COLUMN = N_("Deal")
STATUS_CODE_COLUMN = N_("Status code")
CRM_COLUMN, GROSS_COLUMN, NET_COLUMN = N_("Amount in the CRM"), N_("Invoice gross amount"), N_("Net receivable")
MONEY_COLUMNS = (CRM_COLUMN, GROSS_COLUMN, N_("Total withheld"), NET_COLUMN)


class UnreadableReportError(ValueError):
    """A file that is not a report this pipeline wrote."""


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[index]) for row in rows) for index in range(len(rows[0]))]
    return [
        "  "
        + "  ".join(
            cell.ljust(width) if index == 0 else cell.rjust(width)
            for index, (cell, width) in enumerate(zip(row, widths, strict=False))
        )
        for row in rows
    ]


def report_text(report: Report) -> str:
    """Counts and amounts by situation, the walk from CRM to issued, and the open items."""
    summary = report.summary
    lines = [
        _("Reconciliation · account {account} · closed on {period}").format(
            account=report.account, period=report.period_label
        ),
        "",
    ]
    rows = [_status_header()]
    rows += [
        (
            line.outcome.label,
            str(line.count),
            format_money(line.crm_amount),
            format_money(line.gross) if line.outcome.is_invoiced else "—",
            format_money(line.net) if line.outcome.is_receivable else "—",
        )
        for line in summary.by_status
    ]
    lines += _table(rows) + [""]
    lines += _table(
        [(_("Reconciliation"), _("Deals"), _("Amount"))]
        + [(line.label, str(line.count), format_money(line.amount)) for line in summary.bridge]
    )
    lines += [
        "",
        _("Withheld on issued invoices: {withheld}; net receivable: {net}").format(
            withheld=format_money(summary.withheld_issued), net=format_money(summary.net_issued)
        ),
        ngettext(
            "Open (every day): {count} deal, {amount}",
            "Open (every day): {count} deals, {amount}",
            summary.open_count,
        ).format(count=summary.open_count, amount=format_money(summary.open_amount)),
    ]
    if summary.reasons:
        lines += ["", _("Exceptions by reason:")]
        lines += [
            f"  {group.count:>4}  {stage_label(group.stage)}: {group.label} ({group.reason}), "
            f"{format_money(group.amount)}"
            for group in summary.reasons
        ]
    return "\n".join(lines)


def _status_header() -> tuple[str, ...]:
    return (_("Status"), _("Deals"), _("Amount in the CRM"), _("Gross amount"), _("Net"))


def _amount(cell: object) -> Decimal | None:
    """One money cell as the file holds it: CSV text with a decimal comma, or the XLSX number."""
    if cell is None or (isinstance(cell, float) and math.isnan(cell)):
        return None
    text = str(cell).strip().replace(",", ".")
    if not text:
        return None
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError(_("{cell} in a money column is not an amount").format(cell=repr(cell))) from None
    if not amount.is_finite():
        raise ValueError(_("{cell} in a money column is not an amount").format(cell=repr(cell)))
    return amount


def _file_language(path: Path) -> str | None:
    """The language the file's headers (in an XLSX, its sheet names) were written in; None when none fits, and the
    file is then read in the reader's, so that the error names the missing columns in words the reader knows."""
    if path.suffix.lower() == ".csv":
        found = set(pd.read_csv(path, sep=CSV_SEPARATOR, encoding=CSV_ENCODING, nrows=0).columns)
    else:
        with pd.ExcelFile(path) as workbook:
            found = set(workbook.sheet_names)
    for language in LANGUAGES:
        with using_language(language):
            if (_(STATUS_CODE_COLUMN) if path.suffix.lower() == ".csv" else _(SHEET_DEALS)) in found:
                return language
    return None


def _read_deals(path: Path) -> pd.DataFrame:
    """The file's deals, with its headers put back into the source text of `reports.columns`."""
    if path.suffix.lower() not in (".csv", ".xlsx"):
        raise UnreadableReportError(
            _("{path}: give the report's .csv or .xlsx (the HTML is for reading in a browser)").format(path=path)
        )
    try:
        with using_language(_file_language(path) or current_language()):
            names = {_(column): column for column in (DEAL_COLUMN, STATUS_CODE_COLUMN, *MONEY_COLUMNS)}
            sheet = _(SHEET_DEALS)
        converters = {name: _amount for name, column in names.items() if column in MONEY_COLUMNS}
        deal_column = next(name for name, column in names.items() if column == DEAL_COLUMN)
        if path.suffix.lower() == ".csv":
            deals = pd.read_csv(
                path,
                sep=CSV_SEPARATOR,
                decimal=",",
                encoding=CSV_ENCODING,
                dtype={deal_column: str},
                converters=converters,
            )
        else:
            deals = pd.read_excel(path, sheet_name=sheet, dtype={deal_column: str}, converters=converters)
    except (ValueError, KeyError, OSError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise UnreadableReportError(
            _("{path}: cannot be read as a reconciliation report ({error})").format(path=path, error=error)
        ) from None
    return deals.rename(columns=names)


def _money(series: pd.Series) -> Decimal:
    """A money column's sum, to the cent; empty cells count as nothing."""
    return sum((amount for amount in series if isinstance(amount, Decimal)), Decimal("0")).quantize(Decimal("0.01"))


def file_text(path: Path) -> str:
    """Counts and amounts by situation, read back from a written CSV or XLSX."""
    deals = _read_deals(path)
    missing = [_(column) for column in (STATUS_CODE_COLUMN, *MONEY_COLUMNS) if column not in deals.columns]
    if missing:
        raise UnreadableReportError(
            _("{path}: not a reconciliation report (no column {columns})").format(path=path, columns=", ".join(missing))
        )
    rows = [_status_header()]
    for outcome in OUTCOME_ORDER:
        selected = deals[deals[STATUS_CODE_COLUMN] == outcome.value]
        if len(selected):
            rows.append(
                (
                    outcome.label,
                    str(len(selected)),
                    format_money(_money(selected[CRM_COLUMN])),
                    format_money(_money(selected[GROSS_COLUMN])),
                    format_money(_money(selected[NET_COLUMN])),
                )
            )
    unknown = set(deals[STATUS_CODE_COLUMN].dropna()) - {outcome.value for outcome in Outcome}
    count = ngettext("{name}: {count} deal", "{name}: {count} deals", len(deals)).format(
        name=path.name, count=len(deals)
    )
    lines = [count, ""] + _table(rows)
    if unknown:
        lines.append(_("  unknown statuses: {codes}").format(codes=", ".join(sorted(map(str, unknown)))))
    lines += [
        "",
        _("  Total in the CRM: {crm}; invoices: {gross}").format(
            crm=format_money(_money(deals[CRM_COLUMN])), gross=format_money(_money(deals[GROSS_COLUMN]))
        ),
    ]
    return "\n".join(lines)
