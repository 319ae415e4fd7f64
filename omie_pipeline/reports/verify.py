"""Cross-checks of a built report against the database's own counts and sums.

The report adds up Decimal values row by row in Python; these checks ask the database for the same
figures with SQL COUNT and SUM. A disagreement means a deal was dropped, doubled or misplaced
between the store and the report, which finance must not be shown as a clean reconciliation.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal

from omie_pipeline.i18n import _
from omie_pipeline.reports.build import day_window
from omie_pipeline.reports.labels import Outcome
from omie_pipeline.reports.model import Report
from omie_pipeline.store import Store
from omie_pipeline.store.report_queries import (
    WITHHOLDABLE_TAX_NAMES,
    StatusTotals,
    closed_deal_totals,
    invoice_totals_by_status,
)

STUCK_OR_FAILED = ("stuck", "rejected")
ZERO = Decimal("0.00")
NO_INVOICES = StatusTotals(0, ZERO, ZERO, ZERO, {}, {})


@dataclass(frozen=True)
class Verification:
    """What the checks found; empty lists mean the report agrees with the store."""

    deals_expected: int
    deals_listed: int
    duplicated_deals: list[str]
    mismatches: list[str]  # "issued gross: report R$ ..., store R$ ..." lines

    @property
    def every_deal_once(self) -> bool:
        """The report lists each closed deal exactly once: none missing, none twice."""
        return self.deals_expected == self.deals_listed and not self.duplicated_deals

    @property
    def totals_agree(self) -> bool:
        """The report's sums equal the store's own SQL sums."""
        return not self.mismatches


def _compare(mismatches: list[str], what: str, in_report, in_store) -> None:
    if in_report != in_store:
        mismatches.append(_("{what}: report {mine}, store {theirs}").format(what=what, mine=in_report, theirs=in_store))


def verify_report(report: Report, store: Store, closed_statuses: Collection[str]) -> Verification:
    """Recount the report's deals and re-add its totals by status and by tax in SQL."""
    statuses = frozenset(status.strip().lower() for status in closed_statuses)
    window = day_window(report.day)
    with store.connect() as connection:
        expected_count, expected_amount = closed_deal_totals(connection, report.account, statuses, window)
        by_status = invoice_totals_by_status(connection, report.account, statuses, window)
    listed = Counter(deal.deal_id for deal in report.deals)
    mismatches: list[str] = []
    summary = report.summary
    _compare(mismatches, _("closed amount"), summary.closed_amount, expected_amount)
    for outcome in Outcome:
        if not outcome.is_invoiced:
            continue
        line, stored = summary.status(outcome), by_status.get(outcome.value, NO_INVOICES)
        for what, mine, theirs in (
            (_("count"), line.count, stored.count),
            (_("gross"), line.gross, stored.gross),
            (_("withheld"), line.withheld, stored.withheld),
            (_("net"), line.net, stored.net),
        ):
            _compare(mismatches, f"{outcome.value} {what}", mine, theirs)
    unknown = set(by_status) - {outcome.value for outcome in Outcome}
    if unknown:
        mismatches.append(
            _("invoice statuses the report does not know: {statuses}").format(statuses=", ".join(sorted(unknown)))
        )
    issued = by_status.get(Outcome.ISSUED.value, NO_INVOICES)
    for tax in summary.taxes:
        _compare(
            mismatches,
            _("{tax} on issued notes").format(tax=tax.tax),
            tax.amount_issued,
            issued.taxes.get(tax.tax, ZERO),
        )
        if tax.tax in WITHHOLDABLE_TAX_NAMES:
            _compare(
                mismatches,
                _("{tax} withheld on issued notes").format(tax=tax.tax),
                tax.withheld_issued,
                issued.withheld_by_tax.get(tax.tax, ZERO),
            )
    return Verification(
        deals_expected=expected_count,
        deals_listed=sum(listed.values()),
        duplicated_deals=sorted(deal_id for deal_id, count in listed.items() if count > 1),
        mismatches=mismatches,
    )


def stuck_or_failed(report: Report) -> list[str]:
    """Open items stuck at Omie or the prefeitura, or rejected: what on-call and finance chase first."""
    return [deal.deal_id for deal in report.open_items if set(deal.reasons) & set(STUCK_OR_FAILED)]
