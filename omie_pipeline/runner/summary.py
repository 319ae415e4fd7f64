"""What one pass of the pipeline achieved, read back from the state store."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from omie_pipeline.domain.invoice_status import PENDING_STATUSES
from omie_pipeline.domain.timeutil import now_utc, to_sao_paulo
from omie_pipeline.i18n import _
from omie_pipeline.store import Store
from omie_pipeline.store.tables import client_links, deal_issues, deals, invoices
from omie_pipeline.sync.invoices import IssueSettings
from omie_pipeline.sync.waiting import WaitingDeals, read_waiting

CLAIM_LEASE = IssueSettings().claim_lease


@dataclass
class DealOutcome:
    """One closed deal's end state: its invoice status, or `issue` with the reason."""

    deal_id: str
    outcome: str
    reason: str | None = None
    nfse_number: str | None = None

    def as_dict(self) -> dict:
        return {
            "deal_id": self.deal_id,
            "outcome": self.outcome,
            "reason": self.reason,
            "nfse_number": self.nfse_number,
        }


@dataclass
class PipelineSummary:
    account: str
    deals_closed: int = 0
    deals_valid: int = 0
    clients: Counter = field(default_factory=Counter)
    invoices: Counter = field(default_factory=Counter)
    issues: Counter = field(default_factory=Counter)
    outcomes: list[DealOutcome] = field(default_factory=list)
    invoiced_amount: Decimal = Decimal("0")
    held_until: dict[str, datetime] = field(default_factory=dict)
    """Deals whose intent a run claimed and left before Omie recorded an OS (it was interrupted):
    nothing is sent for them until the claim's lease runs out."""
    waiting: WaitingDeals | None = None
    """Deals the last issuing run left unsent because Omie's calls were paused (still without an invoice)."""

    @property
    def waiting_deals(self) -> int:
        return sum(1 for outcome in self.outcomes if outcome.outcome == "waiting")

    @property
    def waiting_on_prefeitura(self) -> int:
        """Pending invoices Omie holds an OS for: the prefeitura, not this pipeline, has the next move."""
        return self.pending_invoices - len(self.held_until)

    @property
    def pending_invoices(self) -> int:
        return sum(self.invoices[status] for status in PENDING_STATUSES)

    @property
    def deals_settled(self) -> int:
        """Deals whose outcome is known: a final invoice, or an issue."""
        return sum(
            1 for outcome in self.outcomes if outcome.outcome not in PENDING_STATUSES and outcome.outcome != "pending"
        )

    def as_dict(self) -> dict:
        return {
            "account": self.account,
            "deals": {"closed": self.deals_closed, "valid": self.deals_valid},
            "clients": dict(self.clients),
            "invoices": dict(self.invoices),
            "issues_by_reason": dict(self.issues),
            "invoiced_amount": str(self.invoiced_amount),
            "deal_outcomes": [outcome.as_dict() for outcome in self.outcomes],
            "waiting": None
            if not self.waiting_deals
            else {
                "deals": self.waiting_deals,
                "why": self.waiting.describe(),
                "until": self.waiting.until.isoformat() if self.waiting.until else None,
            },
        }


def summarise(
    store: Store, account: str, claim_lease: timedelta = CLAIM_LEASE, now: datetime | None = None
) -> PipelineSummary:
    """Counts by stage and each deal's outcome; a deal with both an invoice and issues shows the invoice."""
    now = now or now_utc()
    summary = PipelineSummary(account=account)
    with store.connect() as connection:
        deal_rows = connection.execute(
            sa.select(deals.c.deal_id, deals.c.is_valid).where(deals.c.account == account).order_by(deals.c.deal_id)
        ).all()
        summary.deals_closed = len(deal_rows)
        summary.deals_valid = sum(1 for row in deal_rows if row.is_valid)
        summary.clients.update(
            dict(
                connection.execute(
                    sa.select(client_links.c.how, sa.func.count())
                    .where(client_links.c.account == account)
                    .group_by(client_links.c.how)
                ).all()
            )
        )
        invoice_rows = {
            row.deal_id: row
            for row in connection.execute(
                sa.select(
                    invoices.c.deal_id,
                    invoices.c.status,
                    invoices.c.nfse_number,
                    invoices.c.last_error,
                    invoices.c.gross_amount,
                    invoices.c.omie_os_id,
                    invoices.c.claimed_by,
                    invoices.c.claimed_at,
                ).where(invoices.c.account == account)
            )
        }
        open_issues: dict[str, list] = {}
        for row in connection.execute(
            sa.select(deal_issues.c.deal_id, deal_issues.c.field, deal_issues.c.reason, deal_issues.c.message)
            .where(deal_issues.c.account == account, deal_issues.c.resolved_at.is_(None))
            .order_by(deal_issues.c.id)
        ):
            open_issues.setdefault(row.deal_id, []).append(row)
        summary.waiting = read_waiting(connection, account)
    waiting = set(summary.waiting.deal_ids) if summary.waiting else set()
    for invoice in invoice_rows.values():
        summary.invoices[invoice.status] += 1
        summary.invoiced_amount += invoice.gross_amount
    for issue_list in open_issues.values():
        for issue in issue_list:
            summary.issues[issue.reason] += 1
    known = {row.deal_id for row in deal_rows} | set(open_issues)
    for deal_id in sorted(known):
        invoice = invoice_rows.get(deal_id)
        if invoice is not None:
            reason = invoice.last_error
            until = _held_until(invoice, claim_lease, now)
            if until is not None:
                summary.held_until[deal_id] = until
                reason = _("held by an interrupted run until {until} (São Paulo); sent after that").format(
                    until=f"{to_sao_paulo(until):%H:%M}"
                )
            summary.outcomes.append(DealOutcome(deal_id, invoice.status, reason, invoice.nfse_number))
        elif deal_id in open_issues:
            first = open_issues[deal_id][0]
            reasons = "; ".join(_naming_its_field(issue) for issue in open_issues[deal_id])
            summary.outcomes.append(DealOutcome(deal_id, "issue", reasons or first.reason))
        elif deal_id in waiting:
            summary.outcomes.append(DealOutcome(deal_id, "waiting", _waiting_reason(summary.waiting)))
        else:
            summary.outcomes.append(DealOutcome(deal_id, "pending", _("not processed yet")))
    return summary


def _naming_its_field(issue) -> str:
    """The issue's message led by its field, once: a validation message already starts with it."""
    lead = f"{issue.field}: "
    return issue.message if issue.message.startswith(lead) else lead + issue.message


def _waiting_reason(waiting: WaitingDeals) -> str:
    until = (
        _("; paused until {until} (São Paulo)").format(until=f"{to_sao_paulo(waiting.until):%H:%M}")
        if waiting.until
        else ""
    )
    return _("nothing sent: {why}{until}; the first sync after that sends it").format(
        why=waiting.describe(), until=until
    )


def _held_until(invoice, claim_lease: timedelta, now: datetime) -> datetime | None:
    """When a claimed intent with no OS recorded is free again; None when it is not held so."""
    if invoice.status not in PENDING_STATUSES or invoice.omie_os_id is not None or not invoice.claimed_by:
        return None
    until = invoice.claimed_at + claim_lease
    return until if until > now else None
