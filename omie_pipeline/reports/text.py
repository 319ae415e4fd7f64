"""The report as plain text for a terminal: a built report, or one read back from its CSV or XLSX.

Reading a written file back uses pandas the way finance's spreadsheet does (`;`, decimal comma,
BOM), so what the terminal shows is what the file holds. Money columns are read cell by cell as
Decimal and summed as Decimal: a float sum drifts by whole cents on large totals.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pandas as pd

from omie_pipeline.domain.money import format_brl
from omie_pipeline.reports.csv_export import CSV_ENCODING, CSV_SEPARATOR
from omie_pipeline.reports.labels import OUTCOME_ORDER, Outcome, stage_label
from omie_pipeline.reports.model import Report
from omie_pipeline.reports.xlsx import SHEET_DEALS

STATUS_CODE_COLUMN = "Código da situação"
MONEY_COLUMNS = ("Valor no CRM", "Valor bruto da nota", "Total retido", "Líquido a receber")


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
    lines = [f"Conciliação · conta {report.account} · fechados em {report.period_label}", ""]
    rows = [("Situação", "Negócios", "Valor no CRM", "Valor bruto", "Líquido")]
    rows += [
        (
            line.outcome.label,
            str(line.count),
            format_brl(line.crm_amount),
            format_brl(line.gross) if line.outcome.is_invoiced else "—",
            format_brl(line.net) if line.outcome.is_receivable else "—",
        )
        for line in summary.by_status
    ]
    lines += _table(rows) + [""]
    lines += _table(
        [("Conciliação", "Negócios", "Valor")]
        + [(line.label, str(line.count), format_brl(line.amount)) for line in summary.bridge]
    )
    lines += [
        "",
        f"Retido nas notas emitidas: {format_brl(summary.withheld_issued)}; "
        f"líquido a receber: {format_brl(summary.net_issued)}",
        f"Em aberto (todas as datas): {summary.open_count} negócios, {format_brl(summary.open_amount)}",
    ]
    if summary.reasons:
        lines += ["", "Exceções por motivo:"]
        lines += [
            f"  {group.count:>4}  {stage_label(group.stage)}: {group.label} ({group.reason}), "
            f"{format_brl(group.amount)}"
            for group in summary.reasons
        ]
    return "\n".join(lines)


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
        raise ValueError(f"{cell!r} in a money column is not an amount") from None
    if not amount.is_finite():
        raise ValueError(f"{cell!r} in a money column is not an amount")
    return amount


_MONEY_CONVERTERS = {column: _amount for column in MONEY_COLUMNS}


def _read_deals(path: Path) -> pd.DataFrame:
    try:
        if path.suffix.lower() == ".csv":
            return pd.read_csv(
                path,
                sep=CSV_SEPARATOR,
                decimal=",",
                encoding=CSV_ENCODING,
                dtype={"Negócio": str},
                converters=_MONEY_CONVERTERS,
            )
        if path.suffix.lower() == ".xlsx":
            return pd.read_excel(path, sheet_name=SHEET_DEALS, dtype={"Negócio": str}, converters=_MONEY_CONVERTERS)
    except (ValueError, KeyError, OSError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise UnreadableReportError(f"{path}: cannot be read as a reconciliation report ({error})") from None
    raise UnreadableReportError(f"{path}: give the report's .csv or .xlsx (the HTML is for reading in a browser)")


def _money(series: pd.Series) -> Decimal:
    """A money column's sum, to the cent; empty cells count as nothing."""
    return sum((amount for amount in series if isinstance(amount, Decimal)), Decimal("0")).quantize(Decimal("0.01"))


def file_text(path: Path) -> str:
    """Counts and amounts by situation, read back from a written CSV or XLSX."""
    deals = _read_deals(path)
    missing = [column for column in (STATUS_CODE_COLUMN, *MONEY_COLUMNS) if column not in deals.columns]
    if missing:
        raise UnreadableReportError(f"{path}: not a reconciliation report (no column {', '.join(missing)})")
    rows = [("Situação", "Negócios", "Valor no CRM", "Valor bruto", "Líquido")]
    for outcome in OUTCOME_ORDER:
        selected = deals[deals[STATUS_CODE_COLUMN] == outcome.value]
        if len(selected):
            rows.append(
                (
                    outcome.label,
                    str(len(selected)),
                    format_brl(_money(selected["Valor no CRM"])),
                    format_brl(_money(selected["Valor bruto da nota"])),
                    format_brl(_money(selected["Líquido a receber"])),
                )
            )
    unknown = set(deals[STATUS_CODE_COLUMN].dropna()) - {outcome.value for outcome in Outcome}
    lines = [f"{path.name}: {len(deals)} negócios", ""] + _table(rows)
    if unknown:
        lines.append(f"  situações desconhecidas: {', '.join(sorted(map(str, unknown)))}")
    lines += [
        "",
        f"  Total no CRM: {format_brl(_money(deals['Valor no CRM']))}; "
        f"notas: {format_brl(_money(deals['Valor bruto da nota']))}",
    ]
    return "\n".join(lines)
