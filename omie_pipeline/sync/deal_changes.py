"""Sales that change after invoicing: a deal reopened, lost or changed in amount once its NFS-e was issued.

The note stays valid in the prefeitura's books whatever the CRM says, and only a person may decide
to cancel it (a cancellation has a deadline set by each city, and some cities refuse it once the
ISS was paid). So nothing is cancelled here: each such deal gets an open issue of the
`sale_changed` stage, saying what changed and giving the exact cancel command; the alert sensor
tells finance once per issue. The issue closes by itself when the deal is closed again at the
invoiced amount, or when the note is cancelled. A cancelled note whose deal is closed again gets
a new NFS-e only through `invoices reissue` (a person's decision too).

It reads only the state store (deals as pulled, invoices as refreshed): the deal pull is not
touched. The issue's texts, the cancel reason included, are written in the process's language.
"""

from __future__ import annotations

import shlex
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

from omie_pipeline.alerts.messages import AMOUNT_CHANGED, CANCEL_RULES, REOPENED, cancel_command
from omie_pipeline.domain.timeutil import now_utc
from omie_pipeline.i18n import _, format_money
from omie_pipeline.store import Store
from omie_pipeline.store.deals import IssueRecord, record_issues, resolve_issues_not_seen
from omie_pipeline.store.sale_changes import SALE_STAGE, IssuedSale, deals_with_open_sale_changes, issued_sales


@dataclass
class SaleChangeSummary:
    """What one look found: deal id -> the reasons of its open `sale_changed` issues."""

    changed: dict[str, list[str]] = field(default_factory=dict)
    resolved: int = 0


def _sale_issues(sale: IssuedSale, closed_statuses: Collection[str]) -> list[IssueRecord]:
    """The `sale_changed` issues of one issued sale: none while its deal is closed at the invoiced amount."""
    note = _("NFS-e {number}").format(number=sale.nfse_number) if sale.nfse_number else _("its NFS-e")
    found = []
    target = shlex.quote(sale.deal_id)
    if sale.deal_status.strip().lower() not in closed_statuses:
        found.append(
            IssueRecord(
                sale.deal_id,
                SALE_STAGE,
                "status",
                REOPENED,
                _(
                    "deal {deal} is {status} in the CRM, but {note} was issued for it ({amount}); nothing was cancelled"
                ).format(
                    deal=sale.deal_id,
                    status=repr(sale.deal_status),
                    note=note,
                    amount=format_money(sale.invoiced_amount),
                ),
                _(
                    "if the sale is undone, cancel the note: `{command}` ({rules}); if it was reopened by mistake, "
                    "close it again in the CRM and this issue closes by itself"
                ).format(command=cancel_command(target, REOPENED), rules=_(CANCEL_RULES)),
                sale.deal_status,
            )
        )
    if sale.deal_amount is not None and sale.deal_amount != sale.invoiced_amount:
        found.append(
            IssueRecord(
                sale.deal_id,
                SALE_STAGE,
                "amount",
                AMOUNT_CHANGED,
                _(
                    "deal {deal} is now {amount} in the CRM, but {note} was issued for {invoiced}; nothing was "
                    "cancelled"
                ).format(
                    deal=sale.deal_id,
                    amount=format_money(sale.deal_amount),
                    note=note,
                    invoiced=format_money(sale.invoiced_amount),
                ),
                _(
                    "to invoice the new amount, cancel the note: `{command}` ({rules}), then "
                    "`omie-pipeline invoices reissue {deal}`; if the CRM amount is wrong, correct it there and this "
                    "issue closes by itself"
                ).format(command=cancel_command(target, AMOUNT_CHANGED), rules=_(CANCEL_RULES), deal=target),
                str(sale.deal_amount),
            )
        )
    return found


def detect_sale_changes(
    store: Store,
    account: str,
    *,
    closed_statuses: Collection[str] = ("won",),
    now: datetime | None = None,
) -> SaleChangeSummary:
    """Open an issue for every issued sale whose deal changed, and close those that no longer hold."""
    now = now or now_utc()
    closed = {status.strip().lower() for status in closed_statuses}
    summary = SaleChangeSummary()
    with store.begin() as connection:
        sales = issued_sales(connection, account)
        seen: dict[str, set[tuple[str, str]]] = {
            deal_id: set() for deal_id in deals_with_open_sale_changes(connection, account)
        }
        issues = []
        for sale in sales:
            found = _sale_issues(sale, closed)
            seen[sale.deal_id] = {(issue.field, issue.reason) for issue in found}
            if found:
                summary.changed[sale.deal_id] = [issue.reason for issue in found]
            issues.extend(found)
        record_issues(connection, account, issues, now)
        summary.resolved = resolve_issues_not_seen(connection, account, SALE_STAGE, seen, now)
    return summary
