"""The reads behind the finance reconciliation report.

A closed deal is a `deals` row whose status is one of the configured closed statuses, or a row that
failed validation (its status may be the very thing that is wrong, and finance must still see it).
Its closing moment is `closed_at`; a row whose closing time could not be read falls back to when it
was pulled, so that it lands in exactly one day's report instead of none.

Two kinds of reads live here: the detail rows the report is built from, and independent SQL
aggregates (counts and sums per status and per tax) that the report's checks compare against.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache

import sqlalchemy as sa

from omie_pipeline.domain.invoice_status import PENDING_STATUSES, InvoiceStatus
from omie_pipeline.domain.omie_taxes import COMPARED_TAXES
from omie_pipeline.domain.timeutil import to_sao_paulo
from omie_pipeline.store.streaming import stream_converted
from omie_pipeline.store.tables import (
    client_links,
    deal_issues,
    deals,
    invoices,
    omie_tax_figures,
    reissued_invoices,
)

TAX_NAMES = ("iss", "pis", "cofins", "csll", "ir", "inss", "ibs", "cbs")
WITHHOLDABLE_TAX_NAMES = ("iss", "pis", "cofins", "csll", "ir", "inss")
# Not settled yet: waiting on Omie or the prefeitura (pending) or on a person (error).
OPEN_INVOICE_STATUSES = tuple(sorted(PENDING_STATUSES | {InvoiceStatus.ERROR}))

ZERO = Decimal("0.00")
# Rows fetched from the driver at a time while a report streams its deals.
STREAM_BATCH = 2000


@dataclass(frozen=True)
class ClosingWindow:
    """Deals closed in [start, end), both aware; None on either side leaves it open."""

    start: datetime | None = None
    end: datetime | None = None


def closing_moment() -> sa.ColumnElement:
    """When a deal counts as closed: `closed_at`, else when it was pulled (unreadable date)."""
    return sa.func.coalesce(deals.c.closed_at, deals.c.pulled_at)


def _closed_deals_filter(account: str, closed_statuses: Collection[str], window: ClosingWindow) -> list:
    conditions = [
        deals.c.account == account,
        sa.or_(sa.func.lower(deals.c.status).in_(sorted(closed_statuses)), deals.c.is_valid.is_(False)),
    ]
    moment = closing_moment()
    if window.start is not None:
        conditions.append(moment >= window.start)
    if window.end is not None:
        conditions.append(moment < window.end)
    return conditions


def _invoice_columns() -> list[sa.ColumnElement]:
    names = [
        "status",
        "gross_amount",
        "withheld_total",
        "net_amount",
        "nfse_number",
        "verification_code",
        "issued_at",
        "last_error",
        "fix",
        "status_changed_at",
        "cancel_reason",
        "cancelled_at",
        "os_number",
    ]
    names += [f"{tax}_amount" for tax in TAX_NAMES]
    names += [f"{tax}_withheld" for tax in WITHHOLDABLE_TAX_NAMES]
    names += [f"{tax}_withheld_amount" for tax in WITHHOLDABLE_TAX_NAMES]
    return [invoices.c[name].label(f"invoice_{name}") for name in names] + [
        invoices.c.id.label("invoice_id"),
        invoices.c.codigo_cliente_omie.label("invoice_client_id"),
    ]


def _omie_tax_columns() -> list[sa.ColumnElement]:
    """What Omie computed for the invoice (NULL when never read): `omie_iss_amount`, ..., `omie_source`."""
    names = ["source"] + [f"{tax}_amount" for tax in COMPARED_TAXES]
    return [omie_tax_figures.c[name].label(f"omie_{name}") for name in names]


def _deal_rows_query(account: str) -> sa.Select:
    return (
        sa.select(
            deals.c.deal_id,
            deals.c.closed_at,
            deals.c.pulled_at,
            deals.c.amount,
            deals.c.legal_name,
            deals.c.trade_name,
            deals.c.document,
            deals.c.is_valid,
            client_links.c.codigo_cliente_omie.label("link_client_id"),
            client_links.c.document.label("link_document"),
            *_invoice_columns(),
            *_omie_tax_columns(),
        )
        .select_from(
            deals.outerjoin(
                client_links,
                sa.and_(client_links.c.account == deals.c.account, client_links.c.deal_id == deals.c.deal_id),
            )
            .outerjoin(invoices, sa.and_(invoices.c.account == deals.c.account, invoices.c.deal_id == deals.c.deal_id))
            .outerjoin(
                omie_tax_figures,
                sa.and_(omie_tax_figures.c.account == deals.c.account, omie_tax_figures.c.deal_id == deals.c.deal_id),
            )
        )
        .order_by(closing_moment(), deals.c.deal_id)
    )


def _shown_filter(account: str, closed_statuses: Collection[str], window: ClosingWindow) -> list:
    """The deals a report shows: closed in `window`, or closed on any day and not settled yet."""
    return [*_closed_deals_filter(account, closed_statuses, ClosingWindow()), sa.or_(_in_window(window), _is_open())]


def _in_window(window: ClosingWindow) -> sa.ColumnElement:
    moment = closing_moment()
    bounds = [moment >= window.start] if window.start is not None else []
    bounds += [moment < window.end] if window.end is not None else []
    return sa.and_(*bounds) if bounds else sa.true()


def _is_open() -> sa.ColumnElement:
    """Not settled yet: no invoice, or one waiting on Omie or the prefeitura (submitted, processing) or on a
    person (error); issued and cancelled invoices are settled."""
    return sa.or_(invoices.c.id.is_(None), invoices.c.status.in_(OPEN_INVOICE_STATUSES))


def report_deal_rows(
    connection: sa.Connection, account: str, closed_statuses: Collection[str], window: ClosingWindow
) -> Iterator[list]:
    """The deals one report shows, in one statement, oldest first: with their client link, invoice and Omie's
    tax figures, and two flags: `in_period` (closed in `window`) and `is_open` (not settled, any day).

    Streamed a batch at a time, so that the store's rows are not all held while the report is built, and
    yielded as a list of rows per batch, so that the report can work out what a batch's rows share at once (their
    clients' documents); each column of a batch converted at once (`stream_converted`). Each row is a named
    tuple: the report reads some forty fields of each, and a SQLAlchemy Row's field by name costs ten times a
    tuple's (2 of 3 CPU seconds at 100,000 deals).
    """
    query = (
        _deal_rows_query(account)
        .add_columns(_in_window(window).label("in_period"), _is_open().label("is_open"))
        .where(*_shown_filter(account, closed_statuses, window))
    )
    for names, rows in stream_converted(connection, query, STREAM_BATCH):
        record = _record_type(tuple(names))
        yield list(map(record._make, rows))


@cache
def _record_type(fields: tuple[str, ...]) -> type:
    return namedtuple("ReportDealRow", fields)


def report_issue_rows(
    connection: sa.Connection, account: str, closed_statuses: Collection[str], window: ClosingWindow
) -> Sequence[sa.Row]:
    """The unresolved issues of the deals `report_deal_rows` returns, oldest first, in one statement."""
    query = (
        sa.select(
            deal_issues.c.deal_id,
            deal_issues.c.stage,
            deal_issues.c.field,
            deal_issues.c.reason,
            deal_issues.c.message,
            deal_issues.c.fix,
            deal_issues.c.first_seen_at,
        )
        .select_from(
            deal_issues.join(
                deals, sa.and_(deals.c.account == deal_issues.c.account, deals.c.deal_id == deal_issues.c.deal_id)
            ).outerjoin(invoices, sa.and_(invoices.c.account == deals.c.account, invoices.c.deal_id == deals.c.deal_id))
        )
        .where(deal_issues.c.resolved_at.is_(None), *_shown_filter(account, closed_statuses, window))
        .order_by(deal_issues.c.first_seen_at, deal_issues.c.id)
    )
    return connection.execute(query).all()


def report_replaced_notes(
    connection: sa.Connection, account: str, closed_statuses: Collection[str], window: ClosingWindow
) -> Sequence[sa.Row]:
    """The cancelled notes `invoices reissue` replaced, of the deals `report_deal_rows` returns, each deal's
    oldest first, in one statement. They are kept apart from `invoices`, so no total counts them."""
    query = (
        sa.select(
            reissued_invoices.c.deal_id,
            reissued_invoices.c.nfse_number,
            reissued_invoices.c.os_number,
            reissued_invoices.c.gross_amount,
            reissued_invoices.c.net_amount,
            reissued_invoices.c.cancelled_at,
        )
        .select_from(
            reissued_invoices.join(
                deals,
                sa.and_(deals.c.account == reissued_invoices.c.account, deals.c.deal_id == reissued_invoices.c.deal_id),
            ).outerjoin(invoices, sa.and_(invoices.c.account == deals.c.account, invoices.c.deal_id == deals.c.deal_id))
        )
        .where(*_shown_filter(account, closed_statuses, window))
        .order_by(reissued_invoices.c.deal_id, reissued_invoices.c.issue_number)
    )
    return connection.execute(query).all()


@dataclass(frozen=True)
class StatusTotals:
    """What the database itself sums for one invoice status (SQL SUM, no Python arithmetic)."""

    count: int
    gross: Decimal
    withheld: Decimal
    net: Decimal
    taxes: dict[str, Decimal]
    withheld_by_tax: dict[str, Decimal]


def invoice_totals_by_status(
    connection: sa.Connection, account: str, closed_statuses: Collection[str], window: ClosingWindow
) -> dict[str, StatusTotals]:
    """Per invoice status, counts and SQL sums over the invoices of the deals closed in `window`."""
    sums = [sa.func.coalesce(sa.func.sum(invoices.c[f"{tax}_amount"]), 0).label(f"{tax}_amount") for tax in TAX_NAMES]
    sums += [
        sa.func.coalesce(sa.func.sum(invoices.c[f"{tax}_withheld_amount"]), 0).label(f"{tax}_withheld_amount")
        for tax in WITHHOLDABLE_TAX_NAMES
    ]
    query = (
        sa.select(
            invoices.c.status,
            sa.func.count().label("count"),
            sa.func.coalesce(sa.func.sum(invoices.c.gross_amount), 0).label("gross"),
            sa.func.coalesce(sa.func.sum(invoices.c.withheld_total), 0).label("withheld"),
            sa.func.coalesce(sa.func.sum(invoices.c.net_amount), 0).label("net"),
            *sums,
        )
        .select_from(
            deals.join(invoices, sa.and_(invoices.c.account == deals.c.account, invoices.c.deal_id == deals.c.deal_id))
        )
        .where(*_closed_deals_filter(account, closed_statuses, window))
        .group_by(invoices.c.status)
    )
    return {
        row.status: StatusTotals(
            count=row.count,
            gross=_money(row.gross),
            withheld=_money(row.withheld),
            net=_money(row.net),
            taxes={tax: _money(row._mapping[f"{tax}_amount"]) for tax in TAX_NAMES},
            withheld_by_tax={tax: _money(row._mapping[f"{tax}_withheld_amount"]) for tax in WITHHOLDABLE_TAX_NAMES},
        )
        for row in connection.execute(query)
    }


def closed_deal_totals(
    connection: sa.Connection, account: str, closed_statuses: Collection[str], window: ClosingWindow
) -> tuple[int, Decimal]:
    """How many deals closed in `window`, and the SQL sum of their CRM amounts."""
    row = connection.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(deals.c.amount), 0)).where(
            *_closed_deals_filter(account, closed_statuses, window)
        )
    ).one()
    return row[0], _money(row[1])


def _money(value) -> Decimal:
    """SQLite hands back SUMs of Numeric columns as floats or ints; read them through text, to the cent."""
    if value is None:
        return ZERO
    if isinstance(value, Decimal):
        return value.quantize(ZERO)
    return Decimal(str(value)).quantize(ZERO)


def closing_days(connection: sa.Connection, account: str) -> list[date]:
    """The São Paulo calendar days on which the account's deals closed, oldest first: the days a report has
    deals for.
    """
    moments = connection.execute(
        sa.select(deals.c.closed_at).where(deals.c.account == account, deals.c.closed_at.is_not(None))
    ).scalars()
    return sorted({to_sao_paulo(moment).date() for moment in moments})
