"""Queries on invoices, their history and the invoice-stage deal issues.

Every write that decides who sends what to Omie is a single conditional statement, so two
processes never both act on one invoice: the intent is inserted under its unique keys, a claim is
taken with `UPDATE ... WHERE claimed_by IS NULL OR the lease expired`, a status changes only from
the status the writer read (compare and set), and a request for one Omie id is reserved by moving
`last_checked_at` forward only when the previous request is older than Omie's redundancy interval.
Each function takes a connection, so the caller decides what one transaction holds.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from omie_pipeline.domain.invoice_status import InvoiceStatus
from omie_pipeline.store.listed import listed_in
from omie_pipeline.store.tables import (
    client_links,
    deal_issues,
    deals,
    invoice_events,
    invoices,
    omie_clients,
    reissued_invoices,
    service_map,
    tax_rates,
)
from omie_pipeline.store.upsert import insert_if_absent, upsert

INVOICE_STAGE = "invoice"
REFUSED_BY_OMIE = "refused_by_omie"  # the reason of the invoice issue Omie's refusal of IncluirOS opens
PENDING = (InvoiceStatus.SUBMITTED.value, InvoiceStatus.PROCESSING.value)


@dataclass(frozen=True)
class Invoice:
    """One row of `invoices` (see tables.py for what each column holds)."""

    id: int
    account: str
    deal_id: str
    idempotency_key: str
    status: str
    codigo_cliente_omie: int | None
    service_code: str | None
    tax_rate_id: int | None
    gross_amount: Decimal
    iss_amount: Decimal
    pis_amount: Decimal
    cofins_amount: Decimal
    csll_amount: Decimal
    ir_amount: Decimal
    inss_amount: Decimal
    ibs_amount: Decimal
    cbs_amount: Decimal
    iss_withheld: bool
    pis_withheld: bool
    cofins_withheld: bool
    csll_withheld: bool
    ir_withheld: bool
    inss_withheld: bool
    iss_withheld_amount: Decimal
    pis_withheld_amount: Decimal
    cofins_withheld_amount: Decimal
    csll_withheld_amount: Decimal
    ir_withheld_amount: Decimal
    inss_withheld_amount: Decimal
    withheld_total: Decimal
    net_amount: Decimal
    omie_os_id: int | None
    os_number: str | None
    rps_status: str | None
    nfse_number: str | None
    verification_code: str | None
    nfse_id: int | None
    issued_at: datetime | None
    portal_url: str | None
    last_error: str | None
    fix: str | None
    created_at: datetime
    submitted_at: datetime | None
    status_changed_at: datetime
    last_checked_at: datetime | None
    cancel_reason: str | None
    cancel_requested_by: str | None
    cancel_requested_at: datetime | None
    cancelled_at: datetime | None
    claimed_by: str | None
    claimed_at: datetime | None
    billing_attempt: int
    resent_at: datetime | None
    issue_number: int

    @property
    def cancel_pending(self) -> bool:
        """A cancellation was sent and Omie has not confirmed it yet."""
        return (
            self.status == InvoiceStatus.ISSUED and self.cancel_requested_at is not None and self.cancelled_at is None
        )


_FIELDS = tuple(field.name for field in fields(Invoice))

# Since when a pending invoice has been waiting, the one definition of "stuck" (refresh, checks,
# alerts): since Omie accepted its billing, or, before that, since it entered its status.
STUCK_SINCE = sa.func.coalesce(invoices.c.submitted_at, invoices.c.status_changed_at).label("since")


def pending_since(invoice: Invoice) -> datetime:
    """`STUCK_SINCE` of one loaded invoice."""
    return invoice.submitted_at or invoice.status_changed_at


def stuck_invoices(connection: sa.Connection, account: str, since_before: datetime) -> list[Invoice]:
    """Pending invoices of the account whose wait (`STUCK_SINCE`) began at or before `since_before`,
    longest waiting first."""
    query = (
        sa.select(invoices)
        .where(invoices.c.account == account, invoices.c.status.in_(PENDING), since_before >= STUCK_SINCE)
        .order_by(STUCK_SINCE, invoices.c.id)
    )
    return [_invoice(row) for row in connection.execute(query).mappings()]


@dataclass(frozen=True)
class InvoiceEvent:
    at: datetime
    from_status: str | None
    to_status: str
    detail: str | None


@dataclass(frozen=True)
class DealToInvoice:
    """A valid closed deal without an invoice, with its Omie client when it has one.

    `inputs_changed_at`: the latest change of anything its order is built from (the deal, its
    client link, its product's service mapping, that service's tax rates); None if none is dated."""

    deal: Mapping[str, Any]
    codigo_cliente_omie: int | None
    inputs_changed_at: datetime | None = None
    issue_number: int = 1  # the deal's note to come: 1 + its reissued (cancelled) notes


@dataclass(frozen=True)
class InvoiceIssue:
    """Why a deal cannot be invoiced yet: one `deal_issues` row of the invoice stage."""

    field: str
    reason: str
    message: str
    fix: str
    raw_value: str | None = None


def _invoice(row: Mapping[str, Any] | None) -> Invoice | None:
    return Invoice(**{name: row[name] for name in _FIELDS}) if row is not None else None


# --- reading --------------------------------------------------------------------------------


def get_invoice(connection: sa.Connection, account: str, deal_id: str) -> Invoice | None:
    query = sa.select(invoices).where(invoices.c.account == account, invoices.c.deal_id == deal_id)
    return _invoice(connection.execute(query).mappings().first())


def get_invoice_by_id(connection: sa.Connection, invoice_id: int) -> Invoice | None:
    return _invoice(connection.execute(sa.select(invoices).where(invoices.c.id == invoice_id)).mappings().first())


def invoice_as_asked(connection: sa.Connection, invoice: Invoice) -> Invoice | None:
    """The invoice's row now, if an answer Omie gave about `invoice` (as read before asking) still
    speaks of it; None when the row went meanwhile (a cancelled note set aside by a reissue) or a
    resend billed its OS again since (the answer is about the earlier billing)."""
    query = sa.select(invoices).where(_same_invoice(invoice), invoices.c.billing_attempt == invoice.billing_attempt)
    return _invoice(connection.execute(query).mappings().first())


def list_invoices(connection: sa.Connection, account: str, statuses: Collection[str] | None = None) -> list[Invoice]:
    """The account's invoices (optionally only in `statuses`), oldest first."""
    query = sa.select(invoices).where(invoices.c.account == account)
    if statuses:
        query = query.where(invoices.c.status.in_(list(statuses)))
    query = query.order_by(invoices.c.created_at, invoices.c.id)
    return [_invoice(row) for row in connection.execute(query).mappings()]


def invoices_by_os_ids(connection: sa.Connection, account: str, os_ids: Iterable[int]) -> dict[int, Invoice]:
    """Invoices whose Omie OS is one of `os_ids`, by nCodOS."""
    wanted = set(os_ids)
    if not wanted:
        return {}
    query = sa.select(invoices).where(
        invoices.c.account == account, listed_in(connection, invoices.c.omie_os_id, wanted)
    )
    return {row["omie_os_id"]: _invoice(row) for row in connection.execute(query).mappings()}


def tracked_invoices(connection: sa.Connection, account: str) -> list[Invoice]:
    """Invoices the status refresh follows: those in Omie that are pending, awaiting a
    cancellation's confirmation, or in error without Omie's message. An issued note is not
    followed for its document links: they are fetched when someone asks for the document."""
    query = (
        sa.select(invoices)
        .where(
            invoices.c.account == account,
            invoices.c.omie_os_id.is_not(None),
            sa.or_(
                invoices.c.status.in_(PENDING),
                sa.and_(
                    invoices.c.status == InvoiceStatus.ISSUED.value,
                    invoices.c.cancel_requested_at.is_not(None),
                    invoices.c.cancelled_at.is_(None),
                ),
                sa.and_(invoices.c.status == InvoiceStatus.ERROR.value, invoices.c.last_error.is_(None)),
            ),
        )
        .order_by(invoices.c.created_at, invoices.c.id)
    )
    return [_invoice(row) for row in connection.execute(query).mappings()]


def resumable_intents(connection: sa.Connection, account: str) -> list[Invoice]:
    """Intents an earlier attempt left unfinished: no OS recorded, or an OS not yet invoiced."""
    query = (
        sa.select(invoices)
        .where(
            invoices.c.account == account,
            invoices.c.status == InvoiceStatus.SUBMITTED.value,
            sa.or_(invoices.c.omie_os_id.is_(None), invoices.c.submitted_at.is_(None)),
        )
        .order_by(invoices.c.created_at, invoices.c.id)
    )
    return [_invoice(row) for row in connection.execute(query).mappings()]


def unresolved_intents(connection: sa.Connection, account: str, older_than: datetime) -> list[Invoice]:
    """Intents created before `older_than` that still have no OS in Omie (an outcome never settled)."""
    query = (
        sa.select(invoices)
        .where(invoices.c.account == account, invoices.c.omie_os_id.is_(None), invoices.c.created_at < older_than)
        .order_by(invoices.c.created_at)
    )
    return [_invoice(row) for row in connection.execute(query).mappings()]


def duplicated_omie_ids(connection: sa.Connection, account: str) -> dict[str, list[str]]:
    """OS ids and NFS-e numbers that more than one invoice of the account holds -> their deals."""
    found: dict[str, list[str]] = {}
    for column, label in ((invoices.c.omie_os_id, "OS"), (invoices.c.nfse_number, "NFS-e")):
        repeated = (
            sa.select(column)
            .where(invoices.c.account == account, column.is_not(None))
            .group_by(column)
            .having(sa.func.count() > 1)
        )
        query = (
            sa.select(column.label("value"), invoices.c.deal_id)
            .where(invoices.c.account == account, column.in_(repeated))
            .order_by(invoices.c.deal_id)
        )
        for row in connection.execute(query):
            found.setdefault(f"{label} {row.value}", []).append(row.deal_id)
    return found


def events_of(connection: sa.Connection, account: str, deal_id: str) -> list[InvoiceEvent]:
    query = (
        sa.select(invoice_events)
        .where(invoice_events.c.account == account, invoice_events.c.deal_id == deal_id)
        .order_by(invoice_events.c.at, invoice_events.c.id)
    )
    return [
        InvoiceEvent(row["at"], row["from_status"], row["to_status"], row["detail"])
        for row in connection.execute(query).mappings()
    ]


def latest_event_at(connection: sa.Connection, account: str, deal_id: str) -> datetime | None:
    """When the deal's invoice history last moved: every call that bills an OS is followed by an event,
    so no ValidarOS/FaturarOS of the deal was sent after this moment."""
    return connection.execute(
        sa.select(sa.func.max(invoice_events.c.at)).where(
            invoice_events.c.account == account, invoice_events.c.deal_id == deal_id
        )
    ).scalar()


def open_invoice_count(connection: sa.Connection, account: str) -> int:
    """Invoices of the account still waiting on Omie: pending (`submitted`/`processing`) or issued
    with a cancellation not yet confirmed. While there is one, its status must be refreshed."""
    query = (
        sa.select(sa.func.count())
        .select_from(invoices)
        .where(
            invoices.c.account == account,
            sa.or_(
                invoices.c.status.in_(PENDING),
                sa.and_(
                    invoices.c.status == InvoiceStatus.ISSUED.value,
                    invoices.c.cancel_requested_at.is_not(None),
                    invoices.c.cancelled_at.is_(None),
                ),
            ),
        )
    )
    return connection.execute(query).scalar_one()


def status_counts(connection: sa.Connection, account: str) -> dict[str, int]:
    query = (
        sa.select(invoices.c.status, sa.func.count()).where(invoices.c.account == account).group_by(invoices.c.status)
    )
    return {status: count for status, count in connection.execute(query)}


def deals_to_invoice(connection: sa.Connection, account: str) -> list[DealToInvoice]:
    """Valid closed deals that have no invoice row, oldest first, with their client link if any.

    Only closed deals are stored, and one reopened later is marked invalid, so `is_valid` is the
    whole test."""
    has_invoice = sa.select(invoices.c.deal_id).where(invoices.c.account == account)
    rates_changed = (
        sa.select(sa.func.max(tax_rates.c.valid_from))
        .where(tax_rates.c.account == account, tax_rates.c.service_code == service_map.c.service_code)
        .scalar_subquery()
    )
    earlier_notes = (
        sa.select(sa.func.count())
        .where(reissued_invoices.c.account == deals.c.account, reissued_invoices.c.deal_id == deals.c.deal_id)
        .scalar_subquery()
    )
    query = (
        sa.select(
            deals,
            client_links.c.codigo_cliente_omie.label("linked_client"),
            client_links.c.linked_at.label("linked_at"),
            service_map.c.loaded_at.label("map_loaded_at"),
            rates_changed.label("rates_changed_at"),
            earlier_notes.label("earlier_notes"),
        )
        .select_from(
            deals.outerjoin(
                client_links,
                sa.and_(client_links.c.account == deals.c.account, client_links.c.deal_id == deals.c.deal_id),
            ).outerjoin(
                service_map,
                sa.and_(service_map.c.account == deals.c.account, service_map.c.product_code == deals.c.product_code),
            )
        )
        .where(deals.c.account == account, deals.c.is_valid.is_(True), deals.c.deal_id.not_in(has_invoice))
        .order_by(deals.c.closed_at, deals.c.deal_id)
    )
    found = []
    for row in connection.execute(query).mappings():
        moments = [row[name] for name in ("updated_at", "linked_at", "map_loaded_at", "rates_changed_at") if row[name]]
        found.append(
            DealToInvoice(row, row["linked_client"], max(moments, default=None), 1 + int(row["earlier_notes"] or 0))
        )
    return found


def refused_issue_times(connection: sa.Connection, account: str) -> dict[str, datetime]:
    """Deal id -> when Omie last refused its order (its open `refused_by_omie` invoice issue)."""
    query = (
        sa.select(deal_issues.c.deal_id, sa.func.max(deal_issues.c.last_seen_at))
        .where(
            deal_issues.c.account == account,
            deal_issues.c.stage == INVOICE_STAGE,
            deal_issues.c.reason == REFUSED_BY_OMIE,
            deal_issues.c.resolved_at.is_(None),
        )
        .group_by(deal_issues.c.deal_id)
    )
    return dict(connection.execute(query).tuples().all())


def deal_row(connection: sa.Connection, account: str, deal_id: str) -> Mapping[str, Any] | None:
    query = sa.select(deals).where(deals.c.account == account, deals.c.deal_id == deal_id)
    return connection.execute(query).mappings().first()


# --- the intent and its claim ---------------------------------------------------------------


def insert_intent(connection: sa.Connection, row: Mapping[str, Any]) -> bool:
    """Record the intent to invoice a deal; False when the deal (or the key) already has one."""
    # The key is a function of (account, deal_id), so its uniqueness is also one invoice per deal.
    return insert_if_absent(connection, invoices, row)


def _same_invoice(invoice: Invoice) -> sa.ColumnElement[bool]:
    """The row still holding this invoice. A row another run deleted (an intent dropped, a cancelled
    note set aside) frees its id, which SQLite gives the next row inserted: the id alone could name
    another deal's invoice."""
    return sa.and_(invoices.c.id == invoice.id, invoices.c.idempotency_key == invoice.idempotency_key)


def _as_read(invoice: Invoice) -> sa.ColumnElement[bool]:
    """The row still as `invoice` was read, in what a status answer speaks of: its status and its
    billing (a resend raises `billing_attempt` and keeps the status `error`)."""
    return sa.and_(
        _same_invoice(invoice),
        invoices.c.status == invoice.status,
        invoices.c.billing_attempt == invoice.billing_attempt,
    )


def claim(connection: sa.Connection, invoice: Invoice, claimer: str, now: datetime, lease: timedelta) -> bool:
    """Take the invoice for sending when nobody holds it, or its holder's lease has run out."""
    statement = (
        sa.update(invoices)
        .where(
            _same_invoice(invoice),
            sa.or_(
                invoices.c.claimed_by.is_(None), invoices.c.claimed_at < now - lease, invoices.c.claimed_by == claimer
            ),
        )
        .values(claimed_by=claimer, claimed_at=now)
    )
    return connection.execute(statement).rowcount == 1


def release(connection: sa.Connection, invoice: Invoice, claimer: str) -> None:
    statement = sa.update(invoices).where(_same_invoice(invoice), invoices.c.claimed_by == claimer)
    connection.execute(statement.values(claimed_by=None, claimed_at=None))


def delete_unsent_intent(connection: sa.Connection, invoice: Invoice, claimer: str) -> bool:
    """Drop an intent that never reached Omie (Omie refused it, or has nothing under its key)."""
    statement = sa.delete(invoices).where(
        _same_invoice(invoice), invoices.c.claimed_by == claimer, invoices.c.omie_os_id.is_(None)
    )
    return connection.execute(statement).rowcount == 1


def update_claimed(connection: sa.Connection, invoice: Invoice, claimer: str, values: Mapping[str, Any]) -> bool:
    """Write what the claim holder learned from Omie; False when the claim was lost meanwhile."""
    statement = sa.update(invoices).where(_same_invoice(invoice), invoices.c.claimed_by == claimer)
    return connection.execute(statement.values(**values)).rowcount == 1


# --- a refused invoice corrected and billed again ----------------------------------------------


@dataclass(frozen=True)
class InputChange:
    """Something an invoice's order is built from that changed after Omie or the prefeitura refused it."""

    what: str  # deal, client_link, omie_client, service_map, tax_rates
    at: datetime


def refused_since(invoice: Invoice) -> datetime:
    """Since when the invoice's refusal stands: it entered `error`, or its latest resend was claimed
    (a correction already tried is not a change any more)."""
    moments = [invoice.status_changed_at] + ([invoice.resent_at] if invoice.resent_at else [])
    return max(moments)


def input_changes(connection: sa.Connection, invoice: Invoice, since: datetime | None = None) -> list[InputChange]:
    """What changed after `since` (default: `refused_since`) among the deal (CRM), its client link, its
    client's record in Omie (the mirror), its product's service mapping and that service's tax rates."""
    since = since or refused_since(invoice)
    deal = deal_row(connection, invoice.account, invoice.deal_id)
    found: list[InputChange] = []
    if deal is not None and deal["updated_at"] is not None and deal["updated_at"] > since:
        found.append(InputChange("deal", deal["updated_at"]))
    moments = {
        "client_link": sa.select(client_links.c.linked_at).where(
            client_links.c.account == invoice.account, client_links.c.deal_id == invoice.deal_id
        ),
        "omie_client": sa.select(omie_clients.c.changed_at).where(
            omie_clients.c.account == invoice.account,
            omie_clients.c.codigo_cliente_omie == invoice.codigo_cliente_omie,
        ),
        "tax_rates": sa.select(sa.func.max(tax_rates.c.valid_from)).where(
            tax_rates.c.account == invoice.account, tax_rates.c.service_code == invoice.service_code
        ),
    }
    if deal is not None and deal["product_code"]:
        moments["service_map"] = sa.select(service_map.c.loaded_at).where(
            service_map.c.account == invoice.account, service_map.c.product_code == deal["product_code"]
        )
    for what, query in moments.items():
        at = connection.execute(query).scalar()
        # Omie dates its changes to the second: one in the refusal's own second may follow it.
        after = since.replace(microsecond=0) if what == "omie_client" else since
        if at is not None and (at >= after if what == "omie_client" else at > after):
            found.append(InputChange(what, at))
    return found


def refused_invoices(connection: sa.Connection, account: str, now: datetime, lease: timedelta) -> list[Invoice]:
    """Invoices in `error` with an OS in Omie and no live claim: the ones a resend may take."""
    query = (
        sa.select(invoices)
        .where(
            invoices.c.account == account,
            invoices.c.status == InvoiceStatus.ERROR.value,
            invoices.c.omie_os_id.is_not(None),
            sa.or_(invoices.c.claimed_by.is_(None), invoices.c.claimed_at < now - lease),
        )
        .order_by(invoices.c.status_changed_at, invoices.c.id)
    )
    return [_invoice(row) for row in connection.execute(query).mappings()]


def claim_resend(
    connection: sa.Connection,
    invoice: Invoice,
    claimer: str,
    now: datetime,
    lease: timedelta,
    values: Mapping[str, Any],
    detail: str,
) -> bool:
    """Record a resend before anything is sent: the next billing attempt, claimed by `claimer`, with the
    invoice's figures as the corrected order carries them (`values`), and its event. False when the
    invoice is no longer the refused one read (another resend took it, or Omie's answer moved it)."""
    statement = (
        sa.update(invoices)
        .where(
            _same_invoice(invoice),
            invoices.c.status == InvoiceStatus.ERROR.value,
            invoices.c.billing_attempt == invoice.billing_attempt,
            sa.or_(invoices.c.claimed_by.is_(None), invoices.c.claimed_at < now - lease),
        )
        .values(
            billing_attempt=invoice.billing_attempt + 1, resent_at=now, claimed_by=claimer, claimed_at=now, **values
        )
    )
    if connection.execute(statement).rowcount != 1:
        return False
    add_event(connection, invoice.account, invoice.deal_id, now, invoice.status, invoice.status, detail)
    return True


# --- a cancelled note replaced by a new one ------------------------------------------------------


def set_aside_cancelled(connection: sa.Connection, invoice: Invoice, by: str, at: datetime, detail: str) -> bool:
    """Keep the deal's cancelled note in `reissued_invoices` and free the deal for its next note (its
    invoice row goes; the next intent takes issue number + 1, hence a key of its own). False when
    the invoice is no longer the cancelled one read."""
    removed = connection.execute(
        sa.delete(invoices).where(
            _same_invoice(invoice),
            invoices.c.status == InvoiceStatus.CANCELLED.value,
            invoices.c.issue_number == invoice.issue_number,
        )
    ).rowcount
    if removed != 1:
        return False
    kept = {column.name for column in reissued_invoices.columns} - {"id", "reissued_at", "reissued_by"}
    connection.execute(
        sa.insert(reissued_invoices).values(
            **{name: getattr(invoice, name) for name in kept}, reissued_at=at, reissued_by=by
        )
    )
    add_event(connection, invoice.account, invoice.deal_id, at, invoice.status, invoice.status, detail)
    return True


# --- status changes and their history -------------------------------------------------------


def add_event(
    connection: sa.Connection,
    account: str,
    deal_id: str,
    at: datetime,
    from_status: str | None,
    to_status: str,
    detail: str | None,
) -> None:
    connection.execute(
        sa.insert(invoice_events).values(
            account=account,
            deal_id=deal_id,
            at=at,
            from_status=from_status,
            to_status=to_status,
            detail=detail,
        )
    )


def change_status(
    connection: sa.Connection,
    invoice: Invoice,
    new_status: str,
    at: datetime,
    detail: str | None,
    values: Mapping[str, Any] | None = None,
) -> bool:
    """Move the invoice from the status it was read in to `new_status`, with its event row.

    False (and nothing written) when another writer changed the status, or billed it again, first.
    """
    statement = sa.update(invoices).where(_as_read(invoice))
    changed = (
        connection.execute(statement.values(status=new_status, status_changed_at=at, **dict(values or {}))).rowcount
        == 1
    )
    if changed:
        add_event(connection, invoice.account, invoice.deal_id, at, invoice.status, new_status, detail)
    return changed


def update_fields(connection: sa.Connection, invoice: Invoice, values: Mapping[str, Any]) -> bool:
    """Write fields without a status change, as long as the status and the billing are still the ones read."""
    if not values:
        return False
    statement = sa.update(invoices).where(_as_read(invoice))
    return connection.execute(statement.values(**values)).rowcount == 1


def reserve_check(connection: sa.Connection, invoice: Invoice, now: datetime, interval: timedelta) -> bool:
    """Reserve the right to ask Omie about this invoice now: True when no request for it was made
    in the last `interval` (Omie refuses the same id asked twice within its redundancy interval)."""
    statement = (
        sa.update(invoices)
        .where(
            _same_invoice(invoice),
            sa.or_(invoices.c.last_checked_at.is_(None), invoices.c.last_checked_at <= now - interval),
        )
        .values(last_checked_at=now)
    )
    return connection.execute(statement).rowcount == 1


def set_portal_url(connection: sa.Connection, invoice: Invoice, link: str | None) -> None:
    """Keep the note's portal link (the prefeitura's page) as Omie last gave it; None keeps the one stored."""
    if link:
        connection.execute(sa.update(invoices).where(_same_invoice(invoice)).values(portal_url=link))


def request_cancel(connection: sa.Connection, invoice: Invoice, reason: str, requested_by: str, at: datetime) -> bool:
    """Record who asked to cancel an issued invoice, when and why (the status stays `issued`)."""
    statement = (
        sa.update(invoices)
        .where(_same_invoice(invoice), invoices.c.status == InvoiceStatus.ISSUED.value)
        .values(cancel_reason=reason, cancel_requested_by=requested_by, cancel_requested_at=at)
    )
    if connection.execute(statement).rowcount != 1:
        return False
    add_event(
        connection,
        invoice.account,
        invoice.deal_id,
        at,
        invoice.status,
        invoice.status,
        f"cancellation requested by {requested_by}: {reason}",
    )
    return True


def withdraw_cancel(connection: sa.Connection, invoice: Invoice, at: datetime, detail: str) -> None:
    """Omie refused the cancellation: the invoice is plainly issued again; the event keeps the story."""
    statement = sa.update(invoices).where(_same_invoice(invoice), invoices.c.status == InvoiceStatus.ISSUED.value)
    connection.execute(statement.values(cancel_reason=None, cancel_requested_by=None, cancel_requested_at=None))
    add_event(connection, invoice.account, invoice.deal_id, at, invoice.status, invoice.status, detail)


# --- deal issues of the invoice stage -------------------------------------------------------


def record_invoice_issues(
    connection: sa.Connection, account: str, deal_id: str, issues: Collection[InvoiceIssue], now: datetime
) -> None:
    """Make `issues` the deal's open invoice-stage issues: new ones opened, seen ones refreshed,
    the rest resolved (the deal was fixed)."""
    rows = [
        {
            "account": account,
            "deal_id": deal_id,
            "stage": INVOICE_STAGE,
            "field": issue.field,
            "reason": issue.reason,
            "message": issue.message,
            "fix": issue.fix,
            "raw_value": issue.raw_value,
            "first_seen_at": now,
            "last_seen_at": now,
            "resolved_at": None,
        }
        for issue in issues
    ]
    upsert(
        connection,
        deal_issues,
        rows,
        ["account", "deal_id", "stage", "field", "reason"],
        update_columns=["message", "fix", "raw_value", "last_seen_at", "resolved_at"],
    )
    current = [(issue.field, issue.reason) for issue in issues]
    statement = sa.update(deal_issues).where(
        deal_issues.c.account == account,
        deal_issues.c.deal_id == deal_id,
        deal_issues.c.stage == INVOICE_STAGE,
        deal_issues.c.resolved_at.is_(None),
    )
    if current:
        statement = statement.where(sa.tuple_(deal_issues.c.field, deal_issues.c.reason).not_in(current))
    connection.execute(statement.values(resolved_at=now))


def open_invoice_issues(connection: sa.Connection, account: str, deal_id: str | None = None) -> list[dict[str, Any]]:
    query = sa.select(deal_issues).where(
        deal_issues.c.account == account, deal_issues.c.stage == INVOICE_STAGE, deal_issues.c.resolved_at.is_(None)
    )
    if deal_id is not None:
        query = query.where(deal_issues.c.deal_id == deal_id)
    return [
        dict(row) for row in connection.execute(query.order_by(deal_issues.c.deal_id, deal_issues.c.field)).mappings()
    ]
