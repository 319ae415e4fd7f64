"""Status refresh: every invoice still moving in Omie brought up to date, in bulk.

One refresh reads listings, so its calls grow with pages, not with invoices:
- `ListarNFSEs` over the emission dates since the walk's lower bound: the notes issued (F) and
  cancelled (C), with number, verification code, Omie's emission date and time and the OS they
  belong to (`OrdemServico.nCodigoOS`). A pending invoice whose note is listed is settled by it;
- `ListarOS` only for the invoices that listing leaves open, filtered by their nCodOS
  (`filtrar_por_codigo`, a page of ids per call): OS invoiced without a note yet (submitted ->
  processing) and cancellations (confirmed, or made in Omie's screens, with or without the note).
  When every open invoice has its note listed, no ListarOS is sent at all.
Records are matched to invoices by nCodOS. A note the prefeitura rejected is never listed
(omie-api.md §15): its OS stays "processing" in the listings. So `StatusOS` is asked, one OS after
the other at the client's pace, for what the listings cannot settle: an invoice still
submitted/processing past the grace period (`status_grace`, 10 minutes by default; most notes are
listed within it), a cancellation not confirmed within the same grace, an invoice in error without
Omie's message or whose OS changed without a new note, and the deals an operator asked to
re-check. A rejection therefore settles to `error`, with every ERRO line of its newest attempt,
within one refresh after the grace. Issued notes cost no StatusOS: their document links are
fetched when someone asks for the document. Never more than one request per OS within Omie's
redundancy interval: each is reserved in the store first (`last_checked_at`), so a wait or a
second refresh in another process cannot repeat it. An answer that cannot be read fails only its
invoice, which is asked again at the next refresh.

The lower bound of the NFS-e listing: every walk starts where the previous successful one started,
less a safety margin for clock differences (the watermark), and never before the oldest invoice it
follows was created (its note cannot have been issued earlier). A note issued before the watermark
was listed by an earlier walk, whose invoice was settled then; an OS recorded later was recorded
with its exact state (see sync/invoices.py), so nothing that matters can hide behind the watermark.
The OS listing needs no bound: it asks for the open invoices' own OS.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import ValidationError

from omie_pipeline.domain.invoice_status import InvoiceStatus, UnknownOmieStatusError
from omie_pipeline.domain.timeutil import SAO_PAULO, now_utc
from omie_pipeline.omie import OmieClient, errors
from omie_pipeline.omie.models import InvalidRecord, NfseRecord, OsRecord
from omie_pipeline.store import Store, sync_state
from omie_pipeline.store.invoices import (
    PENDING,
    Invoice,
    get_invoice,
    get_invoice_by_id,
    invoice_as_asked,
    invoices_by_os_ids,
    pending_since,
    reserve_check,
    status_counts,
    stuck_invoices,
    tracked_invoices,
)
from omie_pipeline.store.omie_taxes import record_omie_taxes
from omie_pipeline.sync.invoice_observations import (
    Applied,
    Observation,
    apply_observation,
    from_nfse_record,
    from_os_record,
    from_status_detail,
    latest_nfse_by_os,
)
from omie_pipeline.sync.omie_taxes import figures_from_nfse

log = logging.getLogger("omie_pipeline.invoices")

WATERMARK_KEY = "nfse_status:listed_since"


@dataclass(frozen=True)
class RefreshSettings:
    """`redundant_interval`: Omie's interval between two requests about one id (60 s).
    `margin`: how far before the last walk's start the next one begins (clock differences).
    `status_grace`: how long a pending invoice (or a cancellation) is left to the listings before
    StatusOS is asked about it."""

    redundant_interval: timedelta = timedelta(seconds=60)
    margin: timedelta = timedelta(minutes=5)
    status_grace: timedelta = timedelta(minutes=10)
    page_size: int = 500
    stuck_after: timedelta = timedelta(minutes=30)


@dataclass
class RefreshSummary:
    """What one refresh saw and did."""

    tracked: int = 0
    walked: bool = False
    listed: Counter[str] = field(default_factory=Counter)  # records per listing
    changes: Counter[str] = field(default_factory=Counter)  # new status -> invoices that moved there
    updated: int = 0  # same status, details filled in (links, numbers, messages)
    status_requests: int = 0
    deferred: list[str] = field(default_factory=list)  # deals whose StatusOS had to wait for the interval
    ignored: int = 0  # answers that would move an invoice backwards (stale); nothing written
    unreadable: list[str] = field(default_factory=list)  # deals with a status code this pipeline does not know
    failed: list[str] = field(default_factory=list)  # deals whose StatusOS failed or was unreadable; asked again
    by_status: dict[str, int] = field(default_factory=dict)
    stuck: int = 0  # pending for longer than `stuck_after`
    skipped_records: list[str] = field(default_factory=list)  # listed records that could not be read, and why

    @property
    def changed(self) -> int:
        return sum(self.changes.values())

    def count(self, applied: Applied, observation: Observation) -> None:
        if applied is Applied.CHANGED:
            self.changes[observation.status.value] += 1
        elif applied is Applied.UPDATED:
            self.updated += 1
        elif applied is Applied.IGNORED:
            self.ignored += 1


def parse_deal_ids(text: str | None) -> list[str]:
    """Deal ids from a run tag: comma, space or newline separated, or a JSON list."""
    text = (text or "").strip()
    if not text:
        return []
    if text.startswith("["):
        return [str(item).strip() for item in json.loads(text) if str(item).strip()]
    return [part for part in text.replace(",", " ").split() if part]


def refresh_statuses(
    client: OmieClient,
    store: Store,
    account: str,
    *,
    settings: RefreshSettings | None = None,
    recheck_deal_ids: Collection[str] = (),
    clock: Callable[[], datetime] = now_utc,
) -> RefreshSummary:
    """Refresh every invoice the store still follows (see the module docstring)."""
    settings = settings or RefreshSettings()
    started = clock()
    summary = RefreshSummary()
    with store.connect() as connection:
        tracked = tracked_invoices(connection, account)
        watermark = sync_state.get_datetime(connection, account, WATERMARK_KEY)
        rechecks = [
            invoice
            for deal_id in dict.fromkeys(recheck_deal_ids)
            if (invoice := get_invoice(connection, account, deal_id)) is not None and invoice.omie_os_id
        ]
    summary.tracked = len(tracked)
    moving = [invoice for invoice in tracked if invoice.status in PENDING or invoice.cancel_pending]
    walk_unsettled: set[int] = set()
    if moving:
        since = min(invoice.created_at for invoice in moving) - settings.margin
        if watermark is not None:
            since = max(since, watermark)
        walk_unsettled = _walk(client, store, account, moving, since, started, settings, summary)
        summary.walked = True
    needs_status = walk_unsettled | {invoice.id for invoice in rechecks}
    with store.connect() as connection:
        current = {invoice.id: get_invoice_by_id(connection, invoice.id) for invoice in tracked + rechecks}
    settled: set[int] = set()
    asked = [
        invoice
        for invoice_id, invoice in current.items()
        if invoice is not None and (invoice_id in needs_status or _unsettled(invoice, settings, started))
    ]
    for invoice in sorted(asked, key=pending_since):
        if _ask_status(client, store, invoice, settings, clock, summary):
            settled.add(invoice.id)
    if summary.walked and walk_unsettled <= settled:
        # Only now may the next walk start later: what this one left to StatusOS is settled.
        with store.begin() as connection:
            sync_state.set_datetime(connection, account, WATERMARK_KEY, started - settings.margin)
    with store.connect() as connection:
        summary.by_status = status_counts(connection, account)
        summary.stuck = len(stuck_invoices(connection, account, started - settings.stuck_after))
    log.info(
        "account %s: refreshed %s invoices; changes %s; %s StatusOS; %s deferred",
        account,
        summary.tracked,
        dict(summary.changes),
        summary.status_requests,
        len(summary.deferred),
    )
    return summary


def _walk(
    client: OmieClient,
    store: Store,
    account: str,
    moving: list[Invoice],
    since: datetime,
    started: datetime,
    settings: RefreshSettings,
    summary: RefreshSummary,
) -> set[int]:
    """The NFS-e listing since `since`, then the OS listing for the moving invoices it leaves open,
    applied to the invoices they name; returns the invoice ids the listings leave unsettled."""
    first_day = since.astimezone(SAO_PAULO).date()
    today = started.astimezone(SAO_PAULO).date()

    def skip(record: InvalidRecord) -> None:
        log.warning("account %s: skipped a record Omie listed: %s", account, record)
        summary.skipped_records.append(str(record))

    notes = list(client.list_nfse(first_day, max(first_day, today), page_size=settings.page_size, on_invalid=skip))
    latest = latest_nfse_by_os(notes)
    open_os = sorted(
        {invoice.omie_os_id for invoice in moving if invoice.omie_os_id and not _settled_by_note(invoice, latest)}
    )
    size = client.page_size("ListarOS", settings.page_size)
    orders = [
        order
        for start in range(0, len(open_os), size)
        for order in client.list_os(os_ids=open_os[start : start + size], page_size=size, on_invalid=skip)
    ]
    summary.listed.update({"ListarNFSEs": len(notes), "ListarOS": len(orders)})
    by_os = {order.nCodOS: order for order in orders if order.nCodOS is not None}
    unsettled: set[int] = set()
    read_before_listing = {invoice.id: invoice for invoice in moving}
    with store.connect() as connection:
        matched = invoices_by_os_ids(connection, account, set(latest) | set(by_os))
    for os_id, invoice in matched.items():
        try:
            observation, needs_status = _from_listings(invoice, latest.get(os_id), by_os.get(os_id))
        except UnknownOmieStatusError as unknown:
            log.warning("deal %s: %s", invoice.deal_id, unknown)
            summary.unreadable.append(invoice.deal_id)
            continue
        if needs_status:
            unsettled.add(invoice.id)
        if observation is None:
            continue
        with store.begin() as connection:
            current = invoice_as_asked(connection, read_before_listing.get(invoice.id, invoice))
            if current is None:  # billed again or set aside while Omie listed: StatusOS settles what it is now
                unsettled.add(invoice.id)
                continue
            summary.count(apply_observation(connection, current, observation, started), observation)
            note = latest.get(os_id)
            if note is not None and observation.status is InvoiceStatus.ISSUED:
                # The listed note's Valores are what the payer receives: kept beside our own figures.
                record_omie_taxes(connection, account, invoice.deal_id, figures_from_nfse(note), started)
    return unsettled


def _settled_by_note(invoice: Invoice, latest: Mapping[int, NfseRecord]) -> bool:
    """Whether the listed note says all the OS listing could: the note issued, cancelled or
    rejected for a pending invoice; the note cancelled for a cancellation awaiting confirmation (a
    note still issued leaves the OS to say whether it was cancelled without its note)."""
    note = latest.get(invoice.omie_os_id) if invoice.omie_os_id else None
    if note is None:
        return False
    try:
        status = from_nfse_record(note).status
    except UnknownOmieStatusError:
        return False
    if invoice.cancel_pending:
        return status is InvoiceStatus.CANCELLED
    return status in (InvoiceStatus.ISSUED, InvoiceStatus.CANCELLED, InvoiceStatus.ERROR)


def _from_listings(
    invoice: Invoice, note: NfseRecord | None, order: OsRecord | None
) -> tuple[Observation | None, bool]:
    """What the listings say about one invoice, and whether StatusOS must settle it."""
    from_order = from_os_record(order) if order is not None else None
    if note is not None:
        observation = from_nfse_record(note)
        if from_order is not None and from_order.status is InvoiceStatus.CANCELLED:
            # The OS cancelled while its note still shows issued (cancelled without the NFS-e).
            return Observation("ListarOS", InvoiceStatus.CANCELLED, cancelled_at=from_order.cancelled_at), False
        return observation, observation.status is InvoiceStatus.ERROR and observation.error is None
    if from_order is None or from_order.status is None:
        return None, False
    if from_order.status is InvoiceStatus.CANCELLED:
        return from_order, False
    # Invoiced, no note yet: a billed OS is "processing" until its RPS settles. An invoice in error
    # whose OS changed without a new note (resent in Omie?) is settled by StatusOS.
    if invoice.status == InvoiceStatus.SUBMITTED:
        return from_order, False
    return None, invoice.status == InvoiceStatus.ERROR


def _unsettled(invoice: Invoice, settings: RefreshSettings, now: datetime) -> bool:
    """What the listings did not settle and only StatusOS can: a rejection's message, an invoice
    pending past the grace (a rejected RPS is never listed), a cancellation unconfirmed past it."""
    if invoice.status == InvoiceStatus.ERROR:
        return invoice.last_error is None
    if invoice.status in PENDING:
        return pending_since(invoice) <= now - settings.status_grace
    if invoice.cancel_pending:
        return invoice.cancel_requested_at <= now - settings.status_grace
    return False


def _ask_status(
    client: OmieClient,
    store: Store,
    invoice: Invoice,
    settings: RefreshSettings,
    clock: Callable[[], datetime],
    summary: RefreshSummary,
) -> bool:
    """One StatusOS for the invoice, when its id was not asked within the interval; True if answered."""
    with store.begin() as connection:
        allowed = reserve_check(connection, invoice, clock(), settings.redundant_interval)
    if not allowed:
        summary.deferred.append(invoice.deal_id)
        return False
    summary.status_requests += 1
    try:
        detail = client.os_status(nCodOS=invoice.omie_os_id, with_messages=True)
        observation = from_status_detail(detail)
    except UnknownOmieStatusError as unknown:
        log.warning("deal %s: %s", invoice.deal_id, unknown)
        summary.unreadable.append(invoice.deal_id)
        return False
    except errors.OmieError as failure:
        log.warning("deal %s: StatusOS failed (%s): %s", invoice.deal_id, failure.kind, failure)
        summary.failed.append(invoice.deal_id)
        return False
    except ValidationError as malformed:
        fields = ", ".join(".".join(str(part) for part in problem["loc"]) for problem in malformed.errors())
        log.warning("deal %s: StatusOS answer for OS %s unreadable in %s", invoice.deal_id, invoice.omie_os_id, fields)
        summary.failed.append(invoice.deal_id)
        return False
    with store.begin() as connection:
        current = invoice_as_asked(connection, invoice)
        summary.count(apply_observation(connection, current, observation, clock()), observation)
    return True
