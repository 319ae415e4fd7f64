"""What the reconciliation report holds: one row per closed deal, its exceptions, and the summary.

A deal's row and an exception's are named tuples: the store's column types already give every value
the type the writers expect (Decimal money, aware datetimes, dates for days), and a report of
100,000 deals builds 100,000 of each, so a row costs what its fields cost and is built without a
second check. A tuple is as immutable as a frozen dataclass and several times cheaper to build (a
frozen dataclass sets each field through `object.__setattr__`: about a tenth of the report phase at
100,000 deals). The smaller records stay frozen, slotted dataclasses. The writers (HTML, CSV, XLSX)
only format what is here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import NamedTuple

from omie_pipeline.i18n import _, format_day
from omie_pipeline.reports.labels import Outcome
from omie_pipeline.store.report_queries import TAX_NAMES

ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class TaxValue:
    """One tax on one note: the amount shown, whether the payer withholds it, and how much."""

    amount: Decimal = ZERO
    withheld: bool = False
    withheld_amount: Decimal = ZERO

    @property
    def sent_to_omie(self) -> Decimal:
        """Our figure as the note states it: what the payer withholds when withheld (sent at the withholding
        rate), else the tax itself. This is what Omie's own figure is compared with."""
        return self.withheld_amount if self.withheld else self.amount


NO_TAX = TaxValue()
# The taxes of a deal without a note (none stored, none computed by Omie): one shared, read-only mapping.
NO_TAXES: Mapping = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class ReplacedNote:
    """A cancelled NFS-e of the deal that `invoices reissue` replaced with the deal's current note: shown
    beside it, never counted (it will not be paid)."""

    nfse_number: str | None
    os_number: str | None
    gross_amount: Decimal
    net_amount: Decimal
    cancelled_at: datetime | None


class DealRow(NamedTuple):
    """One closed deal and where it stands. CPFs are already masked here."""

    deal_id: str
    closing_day: date  # in São Paulo time
    closed_at: datetime | None  # None when the CRM's closing time could not be read
    client_name: str
    client_document: str  # CPF masked, CNPJ formatted, anything else partly starred
    omie_client_id: int | None
    outcome: Outcome
    crm_amount: Decimal | None  # what the CRM says the deal is worth
    days_open: int
    nfse_number: str | None = None
    verification_code: str | None = None
    os_number: str | None = None
    issued_at: datetime | None = None
    gross_amount: Decimal | None = None  # the invoice's gross value (None: no invoice)
    taxes: Mapping[str, TaxValue] = NO_TAXES
    withheld_total: Decimal | None = None
    net_receivable: Decimal | None = None
    # What Omie computed for the note (tax name -> amount; empty when never read) and where it was read.
    omie_taxes: Mapping[str, Decimal | None] = NO_TAXES
    omie_taxes_source: str | None = None
    last_error: str | None = None
    fix: str | None = None
    reasons: tuple[str, ...] = ()  # reason codes of this deal's exceptions, for grouping
    replaced: tuple[ReplacedNote, ...] = ()  # its cancelled notes replaced by reissues, oldest first

    @property
    def replaced_gross(self) -> Decimal | None:
        """The gross of the notes this one replaced (cancelled, not receivable); None when it replaced none."""
        return sum((note.gross_amount for note in self.replaced), ZERO) if self.replaced else None

    @property
    def replaced_numbers(self) -> str | None:
        """The numbers of the notes this one replaced, oldest first; None when it replaced none."""
        return ", ".join(note.nfse_number or "-" for note in self.replaced) or None

    @property
    def replaced_cancelled_at(self) -> datetime | None:
        """When the latest note this one replaced was cancelled."""
        return max((note.cancelled_at for note in self.replaced if note.cancelled_at), default=None)

    @property
    def receivable(self) -> Decimal | None:
        """The note's net when it will be paid (an issued NFS-e), else None: what "Líquido a receber" shows."""
        return self.net_receivable if self.outcome.is_receivable else None

    @property
    def amount_at_stake(self) -> Decimal:
        """The invoice's gross value when there is an invoice, else the CRM's amount (or zero)."""
        if self.gross_amount is not None:
            return self.gross_amount
        return self.crm_amount if self.crm_amount is not None else ZERO

    def tax(self, name: str) -> TaxValue:
        """The deal's value for one tax; empty when none is stored (no invoice yet), so tables need no special case."""
        return self.taxes.get(name, NO_TAX)

    def sent_to_omie(self, name: str) -> Decimal:
        """Our figure for a tax as the note states it (`TaxValue.sent_to_omie`)."""
        return self.tax(name).sent_to_omie

    def omie_tax(self, name: str) -> Decimal | None:
        """Omie's figure for a tax; None when Omie's figures were never read."""
        return self.omie_taxes.get(name)


class ExceptionRow(NamedTuple):
    """One thing keeping a closed deal from being cleanly invoiced, with what to do about it."""

    deal_id: str
    client_name: str
    client_document: str
    closing_day: date
    outcome: Outcome
    amount: Decimal  # the deal's amount at stake
    stage: str
    field: str | None
    reason: str
    message: str
    fix: str | None
    since: datetime | None


@dataclass(frozen=True)
class StatusLine:
    """Deals of one outcome and their amounts: CRM, gross, withheld and net."""

    outcome: Outcome
    count: int
    crm_amount: Decimal
    gross: Decimal
    withheld: Decimal
    net: Decimal

    @property
    def withheld_receivable(self) -> Decimal | None:
        """What payers withhold from notes that will be paid; None for notes that never will be."""
        return self.withheld if self.outcome.is_receivable else None

    @property
    def net_receivable(self) -> Decimal | None:
        """The net that will be received; None for notes that will not be paid (rejected, cancelled, in progress)."""
        return self.net if self.outcome.is_receivable else None


class BridgeItem(NamedTuple):
    """One deal behind a step of the walk from CRM to issued, so a difference can be traced to deals. A named
    tuple: a step of a large report lists every deal in it, and a tuple is the cheapest record to build."""

    deal_id: str
    client_name: str
    amount: Decimal
    note: str


@dataclass(frozen=True)
class BridgeLine:
    """One line of the walk from the CRM's closed total to the issued total.

    `kind` is "total" for a running total, "step" for what is added (positive) or taken away
    (negative) between two totals; `items` are the deals behind a step, one by one.
    """

    key: str
    label: str
    kind: str
    count: int
    amount: Decimal
    items: tuple[BridgeItem, ...] = ()


@dataclass(frozen=True)
class TaxTotal:
    """One tax summed over the report's invoices: on issued notes, withheld, and still in progress."""

    tax: str
    label: str
    amount_issued: Decimal  # shown on issued notes
    withheld_issued: Decimal  # withheld by payers on issued notes
    notes_withheld: int  # issued notes on which the payer withholds this tax
    amount_in_progress: Decimal  # on notes still with Omie or the prefeitura


@dataclass(frozen=True)
class AgingBucket:
    """Open items aged min_days to max_days (no upper bound when None), by outcome, to show what is getting old."""

    label: str
    min_days: int
    max_days: int | None
    count: int
    amount: Decimal
    count_by_outcome: dict[Outcome, int]
    amount_by_outcome: dict[Outcome, Decimal]


@dataclass(frozen=True)
class ReasonGroup:
    """Deals with the same exception reason, with the fix most often given, so the biggest cause is fixed first."""

    stage: str
    reason: str
    label: str
    count: int  # deals
    amount: Decimal
    fix: str | None  # the most common fix given for it


@dataclass(frozen=True)
class Summary:
    """The report's figures, computed once and shown alike by the HTML, XLSX, terminal and Dagster."""

    closed_count: int
    closed_amount: Decimal
    invoiced_count: int
    invoiced_amount: Decimal
    issued_count: int
    issued_amount: Decimal
    withheld_issued: Decimal
    net_issued: Decimal
    open_count: int  # open items, any closing day
    open_amount: Decimal
    exceptions_count: int  # deals of the report with at least one exception
    by_status: tuple[StatusLine, ...]
    bridge: tuple[BridgeLine, ...]
    taxes: tuple[TaxTotal, ...]
    aging: tuple[AgingBucket, ...]
    reasons: tuple[ReasonGroup, ...]

    def status(self, outcome: Outcome) -> StatusLine:
        """The line of one outcome (every outcome has one, possibly with zero deals)."""
        return next(line for line in self.by_status if line.outcome == outcome)

    def tax(self, name: str) -> TaxTotal:
        """The total of one tax by its name (`iss`, `pis`, ...)."""
        return next(line for line in self.taxes if line.tax == name)


@dataclass(frozen=True)
class Report:
    """The reconciliation of one account for one closing day (or every day when `day` is None)."""

    account: str
    day: date | None
    generated_at: datetime
    stuck_after_minutes: int
    deals: list[DealRow]  # closed in the report's day, each exactly once
    exceptions: list[ExceptionRow]  # of those deals
    open_items: list[DealRow]  # every closed deal not settled yet, whatever its closing day
    open_exceptions: list[ExceptionRow]
    summary: Summary
    tax_names: tuple[str, ...] = TAX_NAMES

    @property
    def period_label(self) -> str:
        """The closing day as the reader writes it (dd/mm/aaaa in pt-BR), or "every day" for a report over every day."""
        return format_day(self.day) if self.day else _("every day")
