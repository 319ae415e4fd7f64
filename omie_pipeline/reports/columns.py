"""The columns of the Deals, Open items and Exceptions tables, shared by CSV, XLSX and the DataFrame.

Each column has a header in the reader's language, a kind (money, date, integer, text) that tells each writer how to
keep it (numbers stay numbers, dates stay dates) and a getter. One list, so the CSV and the XLSX
cannot disagree about what a column holds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from omie_pipeline.domain.omie_taxes import COMPARED_TAXES
from omie_pipeline.domain.timeutil import to_sao_paulo
from omie_pipeline.i18n import _
from omie_pipeline.reports.labels import TAX_LABELS, reason_label, stage_label, yes_no
from omie_pipeline.store.report_queries import WITHHOLDABLE_TAX_NAMES

ColumnKind = Literal["text", "money", "date", "int"]


@dataclass(frozen=True)
class Column:
    """One column of a report table: its header, how writers keep its values, and how to read them from a row."""

    header: str
    kind: ColumnKind
    get: Callable[[Any], Any]
    width: int = 14  # XLSX column width, in characters


def _local_day(moment: datetime | None) -> date | None:
    return to_sao_paulo(moment).date() if moment is not None else None


def _tax_columns(name: str) -> list[Column]:
    label = TAX_LABELS[name]
    columns = [Column(label, "money", lambda row: row.tax(name).amount if row.gross_amount is not None else None, 12)]
    if name in WITHHOLDABLE_TAX_NAMES:
        columns += [
            Column(
                _("{tax} withheld?").format(tax=label),
                "text",
                lambda row: yes_no(row.tax(name).withheld) if row.gross_amount is not None else None,
                10,
            ),
            Column(
                _("{tax} amount withheld").format(tax=label),
                "money",
                lambda row: row.tax(name).withheld_amount if row.gross_amount is not None else None,
                14,
            ),
        ]
    if name in COMPARED_TAXES:  # what Omie computed, beside ours: empty until Omie's figures are read
        columns.append(
            Column(_("{tax} computed by Omie").format(tax=label), "money", lambda row: row.omie_tax(name), 14)
        )
    return columns


def deal_columns(tax_names: Sequence[str]) -> list[Column]:
    """One row per closed deal: who, which invoice, the money, each tax, how long, what went wrong."""
    columns = [
        Column(_("Deal"), "text", lambda row: row.deal_id, 16),
        Column(_("Closing date"), "date", lambda row: row.closing_day, 12),
        Column(_("Client"), "text", lambda row: row.client_name, 34),
        Column("CPF/CNPJ", "text", lambda row: row.client_document, 20),
        Column(_("Client code in Omie"), "int", lambda row: row.omie_client_id, 14),
        Column(_("Status"), "text", lambda row: row.outcome.label, 26),
        Column(_("NFS-e number"), "text", lambda row: row.nfse_number, 12),
        Column(_("Verification code"), "text", lambda row: row.verification_code, 16),
        Column(_("OS number in Omie"), "text", lambda row: row.os_number, 12),
        Column(_("Issue date"), "date", lambda row: _local_day(row.issued_at), 12),
        # A note replaced by `invoices reissue`, beside the one that replaced it: never part of any total.
        Column(_("Replaced NFS-e (cancelled)"), "text", lambda row: row.replaced_numbers, 12),
        Column(_("Replaced note's gross amount"), "money", lambda row: row.replaced_gross, 15),
        Column(_("Replaced note cancelled on"), "date", lambda row: _local_day(row.replaced_cancelled_at), 12),
        Column(_("Amount in the CRM"), "money", lambda row: row.crm_amount, 15),
        Column(_("Invoice gross amount"), "money", lambda row: row.gross_amount, 15),
    ]
    for name in tax_names:
        columns += _tax_columns(name)
    columns += [
        Column(_("Total withheld"), "money", lambda row: row.withheld_total, 14),
        Column(_("Net receivable"), "money", lambda row: row.receivable, 15),
        Column(_("Days open"), "int", lambda row: row.days_open, 9),
        Column(
            _("Exceptions"), "text", lambda row: "; ".join(reason_label(reason) for reason in row.reasons) or None, 30
        ),
        Column(_("Last error"), "text", lambda row: row.last_error, 50),
        Column(_("How to fix"), "text", lambda row: row.fix, 50),
        Column(_("Status code"), "text", lambda row: row.outcome.value, 12),
    ]
    return columns


def exception_columns() -> list[Column]:
    """One row per problem of a deal; a deal with two problems has two rows."""
    return [
        Column(_("Deal"), "text", lambda row: row.deal_id, 16),
        Column(_("Closing date"), "date", lambda row: row.closing_day, 12),
        Column(_("Client"), "text", lambda row: row.client_name, 30),
        Column("CPF/CNPJ", "text", lambda row: row.client_document, 20),
        Column(_("Status"), "text", lambda row: row.outcome.label, 24),
        Column(_("Stage"), "text", lambda row: stage_label(row.stage), 20),
        Column(_("Field"), "text", lambda row: row.field, 14),
        Column(_("Reason"), "text", lambda row: reason_label(row.reason), 30),
        Column(_("Reason code"), "text", lambda row: row.reason, 18),
        Column(_("Message"), "text", lambda row: row.message, 60),
        Column(_("How to fix"), "text", lambda row: row.fix, 60),
        Column(_("Since"), "date", lambda row: _local_day(row.since), 12),
        Column(_("Amount"), "money", lambda row: row.amount, 15),
    ]
