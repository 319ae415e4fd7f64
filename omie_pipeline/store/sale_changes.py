"""Queries for sales that changed after their NFS-e was issued: issued invoices beside their deals,
and the open issues of the `sale_changed` stage (one per deal and kind of change)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa

from omie_pipeline.domain.invoice_status import InvoiceStatus
from omie_pipeline.store.tables import deal_issues, deals, invoices

SALE_STAGE = "sale_changed"


@dataclass(frozen=True)
class IssuedSale:
    """An issued invoice (no cancellation asked for) and its deal as the CRM has it now."""

    account: str
    deal_id: str
    deal_status: str
    deal_amount: Decimal | None
    deal_updated_at: datetime | None
    invoiced_amount: Decimal
    nfse_number: str | None
    issued_at: datetime | None


@dataclass(frozen=True)
class OpenSaleChange:
    """One open `sale_changed` issue, with the invoice it is about."""

    account: str
    deal_id: str
    reason: str
    message: str
    fix: str | None
    raw_value: str | None
    first_seen_at: datetime
    nfse_number: str | None
    invoiced_amount: Decimal


def issued_sales(connection: sa.Connection, account: str) -> list[IssuedSale]:
    query = (
        sa.select(
            invoices.c.account,
            invoices.c.deal_id,
            deals.c.status.label("deal_status"),
            deals.c.amount.label("deal_amount"),
            deals.c.updated_at.label("deal_updated_at"),
            invoices.c.gross_amount.label("invoiced_amount"),
            invoices.c.nfse_number,
            invoices.c.issued_at,
        )
        .select_from(
            invoices.join(deals, sa.and_(deals.c.account == invoices.c.account, deals.c.deal_id == invoices.c.deal_id))
        )
        .where(
            invoices.c.account == account,
            invoices.c.status == InvoiceStatus.ISSUED.value,
            invoices.c.cancel_requested_at.is_(None),
        )
        .order_by(invoices.c.deal_id)
    )
    return [IssuedSale(**row) for row in connection.execute(query).mappings()]


def deals_with_open_sale_changes(connection: sa.Connection, account: str) -> set[str]:
    query = sa.select(deal_issues.c.deal_id).where(
        deal_issues.c.account == account, deal_issues.c.stage == SALE_STAGE, deal_issues.c.resolved_at.is_(None)
    )
    return set(connection.execute(query).scalars())


def open_sale_changes(connection: sa.Connection) -> list[OpenSaleChange]:
    """Every account's open `sale_changed` issues, oldest first."""
    query = (
        sa.select(
            deal_issues.c.account,
            deal_issues.c.deal_id,
            deal_issues.c.reason,
            deal_issues.c.message,
            deal_issues.c.fix,
            deal_issues.c.raw_value,
            deal_issues.c.first_seen_at,
            invoices.c.nfse_number,
            invoices.c.gross_amount.label("invoiced_amount"),
        )
        .select_from(
            deal_issues.join(
                invoices,
                sa.and_(invoices.c.account == deal_issues.c.account, invoices.c.deal_id == deal_issues.c.deal_id),
            )
        )
        .where(deal_issues.c.stage == SALE_STAGE, deal_issues.c.resolved_at.is_(None))
        .order_by(deal_issues.c.account, deal_issues.c.first_seen_at, deal_issues.c.deal_id)
    )
    return [OpenSaleChange(**row) for row in connection.execute(query).mappings()]
