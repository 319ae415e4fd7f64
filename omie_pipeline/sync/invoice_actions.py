"""On-call actions on one deal's invoice: wait for it, cancel it (its documents: `invoice_documents`).

Wait: polls `StatusOS` for the deal's OS until the invoice is final or the time is up, one
request per redundancy interval at most (reserved in the store, so a status refresh or another
wait running elsewhere counts too): Omie never sees the same question twice within its interval.
Between polls it only reads the store, where an issuing run or a refresh may settle it first.

Cancel: only an issued invoice, with a reason (the national NFS-e rule asks 15 to 255 characters)
and who asks. The request is recorded first (who, when, why, as an event), then `CancelarOS` with
the NFS-e cancellation; the invoice becomes `cancelled` only when Omie confirms it (StatusOS RPS
005, OS cancelled, or the NFS-e listed as cancelled), until then it stays `issued` with the
cancellation pending, which the status refresh follows.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum

from pydantic import ValidationError

from omie_pipeline.domain.invoice_status import InvoiceStatus, UnknownOmieStatusError
from omie_pipeline.domain.text import plain
from omie_pipeline.domain.timeutil import now_utc
from omie_pipeline.i18n import N_, _
from omie_pipeline.omie import OmieClient, errors
from omie_pipeline.store import Store
from omie_pipeline.store.invoices import (
    Invoice,
    add_event,
    get_invoice,
    get_invoice_by_id,
    invoice_as_asked,
    request_cancel,
    reserve_check,
    set_portal_url,
    withdraw_cancel,
)
from omie_pipeline.sync.invoice_fixes import cancel_fix_for, safe_message
from omie_pipeline.sync.invoice_links import note_links
from omie_pipeline.sync.invoice_observations import (
    Applied,
    apply_observation,
    from_status_detail,
)

log = logging.getLogger("omie_pipeline.invoices")

CANCEL_REASON_MIN = 15
CANCEL_REASON_MAX = 255
DEFAULT_WAIT_SECONDS = 300.0
STORE_POLL_SECONDS = 2.0
# Omie's "it is cancelled already" wordings, on accent-free lower case ("já está cancelada!").
# Anything else that speaks of cancelling ("não pode ser cancelada", "prazo de cancelamento") is a refusal.
_ALREADY_CANCELLED = re.compile(r"\bja (?:esta|foi|se encontra) cancelad[ao]s?\b")


class InvoiceActionError(Exception):
    """An action that cannot be done on this invoice; the message says why and what to do."""


class InvoiceNotFoundError(InvoiceActionError):
    pass


class CancelNotAllowedError(InvoiceActionError):
    pass


class CancelRefusedError(InvoiceActionError):
    """Omie refused the cancellation (a deadline passed, ISS already paid...); `fix` says what next."""

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(message)
        self.fix = fix


class WaitExit(IntEnum):
    """Exit codes of `invoices wait` (and what the wait job reports)."""

    ISSUED = 0
    OTHER = 1  # no invoice, bad arguments, Omie unreachable...
    ERROR = 2
    STILL_PROCESSING = 3
    CANCELLED = 4


@dataclass(frozen=True)
class WaitResult:
    invoice: Invoice
    polls: int
    waited_seconds: float
    timed_out: bool

    @property
    def exit_code(self) -> WaitExit:
        status = self.invoice.status
        if status == InvoiceStatus.ISSUED:
            return WaitExit.ISSUED
        if status == InvoiceStatus.ERROR:
            return WaitExit.ERROR
        if status == InvoiceStatus.CANCELLED:
            return WaitExit.CANCELLED
        return WaitExit.STILL_PROCESSING


@dataclass(frozen=True)
class CancelResult:
    invoice: Invoice
    confirmed: bool
    message: str


def _load(store: Store, account: str, deal_id: str) -> Invoice:
    with store.connect() as connection:
        invoice = get_invoice(connection, account, deal_id)
    if invoice is None:
        raise InvoiceNotFoundError(
            _("deal {deal} has no invoice in account {account}").format(deal=deal_id, account=account)
        )
    return invoice


# What a request without an author is told, by the action asked.
_NO_AUTHOR = {
    "cancellation": N_("say who asks for the cancellation (requested_by)"),
    "resend": N_("say who asks for the resend (requested_by)"),
    "reissue": N_("say who asks for the reissue (requested_by)"),
}


def requested_invoice(store: Store, account: str, deal_id: str, requested_by: str, action: str) -> tuple[Invoice, str]:
    """The invoice a person asks an `action` of (a cancellation, a resend, a reissue), and who asks, trimmed:
    every such request is recorded with its author, so nobody named is a ValueError; a deal without an
    invoice is an InvoiceNotFoundError."""
    requested_by = (requested_by or "").strip()
    if not requested_by:
        raise ValueError(_(_NO_AUTHOR[action]))
    return _load(store, account, deal_id), requested_by


def check_once(
    client: OmieClient, store: Store, invoice: Invoice, interval: timedelta, clock: Callable[[], datetime] = now_utc
) -> Applied | None:
    """Ask StatusOS about the invoice if its OS was not asked within `interval`; None if not asked."""
    if invoice.omie_os_id is None:
        return None
    with store.begin() as connection:
        if not reserve_check(connection, invoice, clock(), interval):
            return None
    detail = client.os_status(nCodOS=invoice.omie_os_id, with_messages=True, fresh=True)
    observation = from_status_detail(detail)
    with store.begin() as connection:
        current = invoice_as_asked(connection, invoice)
        applied = apply_observation(connection, current, observation, clock())
        if current is not None:  # the link is of the note asked about, which may be set aside since
            set_portal_url(connection, current, note_links(detail).portal)
        return applied


# --- wait -------------------------------------------------------------------------------------


def _settled(invoice: Invoice) -> bool:
    return (
        invoice.status in (InvoiceStatus.ISSUED, InvoiceStatus.ERROR, InvoiceStatus.CANCELLED)
        and not invoice.cancel_pending
    )


def wait_for_invoice(
    client: OmieClient,
    store: Store,
    account: str,
    deal_id: str,
    *,
    timeout: float = DEFAULT_WAIT_SECONDS,
    interval: timedelta = timedelta(seconds=60),
    clock: Callable[[], datetime] = now_utc,
    sleep: Callable[[float], None] = time.sleep,
    on_poll: Callable[[Invoice], None] | None = None,
) -> WaitResult:
    """Poll until the deal's invoice is issued, in error or cancelled, or `timeout` seconds pass.

    An invoice already in error is asked about once first (when the interval allows): a person may
    have fixed and resent it from Omie, which moves it back to processing."""
    invoice = _load(store, account, deal_id)
    if invoice.status == InvoiceStatus.ERROR:
        check_once(client, store, invoice, interval, clock)
    return poll_invoice(
        client,
        store,
        account,
        deal_id,
        _settled,
        timeout=timeout,
        interval=interval,
        clock=clock,
        sleep=sleep,
        on_poll=on_poll,
    )


def poll_invoice(
    client: OmieClient,
    store: Store,
    account: str,
    deal_id: str,
    done: Callable[[Invoice], bool],
    *,
    timeout: float,
    interval: timedelta,
    clock: Callable[[], datetime] = now_utc,
    sleep: Callable[[float], None] = time.sleep,
    on_poll: Callable[[Invoice], None] | None = None,
) -> WaitResult:
    """Ask StatusOS whenever the interval allows, until `done(invoice)` or the time is up."""
    if timeout < 0:
        raise ValueError(f"timeout must not be negative; got {timeout}")
    started = time.monotonic()
    deadline = started + timeout
    polls = 0
    invoice = _load(store, account, deal_id)
    while True:
        if done(invoice):
            return WaitResult(invoice, polls, time.monotonic() - started, False)
        remaining = deadline - time.monotonic()
        if invoice.omie_os_id is not None:
            due = seconds_until_allowed(invoice, interval, clock())
            if due <= 0:
                try:
                    asked = check_once(client, store, invoice, interval, clock)
                except UnknownOmieStatusError as unknown:
                    raise InvoiceActionError(
                        _("deal {deal}: {problem}").format(deal=deal_id, problem=unknown)
                    ) from unknown
                if asked is not None:
                    polls += 1
                invoice = _load(store, account, deal_id)
                if on_poll is not None:
                    on_poll(invoice)
                continue
            pause = due
        else:
            pause = STORE_POLL_SECONDS  # the OS is being created by an issuing run: watch the store
        if remaining <= 0 or pause > remaining:
            if remaining > 0:
                sleep(remaining)
            invoice = _load(store, account, deal_id)
            return WaitResult(invoice, polls, time.monotonic() - started, not done(invoice))
        sleep(pause)
        invoice = _load(store, account, deal_id)


def seconds_until_allowed(invoice: Invoice, interval: timedelta, now: datetime) -> float:
    """How long until Omie may be asked about the invoice again (0 or less: now)."""
    if invoice.last_checked_at is None:
        return 0.0
    return (invoice.last_checked_at + interval - now).total_seconds()


# --- cancel -----------------------------------------------------------------------------------


def already_cancelled(message: str) -> bool:
    """Whether Omie refused CancelarOS because the OS or its NFS-e is cancelled already."""
    return _ALREADY_CANCELLED.search(plain(message)) is not None


def _status_after_refusal(
    client: OmieClient,
    store: Store,
    account: str,
    deal_id: str,
    interval: timedelta,
    clock: Callable[[], datetime],
    sleep: Callable[[float], None],
) -> Invoice:
    """The invoice once StatusOS was asked about it, waiting out Omie's interval when the note was
    asked about moments ago: the refusal's words alone do not say whether it is cancelled."""
    wait = seconds_until_allowed(_load(store, account, deal_id), interval, clock())
    if wait > 0:
        log.info("deal %s: Omie was asked about this note moments ago; asking again in %.0f s", deal_id, wait)
        sleep(wait)
    try:
        check_once(client, store, _load(store, account, deal_id), interval, clock)
    except (errors.OmieError, UnknownOmieStatusError, ValidationError) as failure:
        # The refusal stands as Omie worded it; the note's status is read on the next refresh.
        why = failure.kind if isinstance(failure, errors.OmieError) else type(failure).__name__
        log.warning("deal %s: StatusOS after the refused cancellation failed: %s", deal_id, why)
    return _load(store, account, deal_id)


def check_cancel_reason(reason: str) -> str:
    """The reason, stripped, or ValueError saying what is wrong with it."""
    text = " ".join((reason or "").split())
    if len(text) < CANCEL_REASON_MIN:
        raise ValueError(
            _(
                "the cancellation reason must have at least {minimum} characters (the prefeitura records it); got "
                "{length}"
            ).format(minimum=CANCEL_REASON_MIN, length=len(text))
        )
    if len(text) > CANCEL_REASON_MAX:
        raise ValueError(
            _("the cancellation reason must have at most {maximum} characters; got {length}").format(
                maximum=CANCEL_REASON_MAX, length=len(text)
            )
        )
    return text


def cancel_invoice(
    client: OmieClient,
    store: Store,
    account: str,
    deal_id: str,
    *,
    reason: str,
    requested_by: str,
    interval: timedelta = timedelta(seconds=60),
    confirm_timeout: float = 0.0,
    clock: Callable[[], datetime] = now_utc,
    sleep: Callable[[float], None] = time.sleep,
) -> CancelResult:
    """Cancel the deal's issued NFS-e in Omie; `confirmed` once Omie shows it cancelled.

    After Omie accepts the request, its confirmation is polled for up to `confirm_timeout`
    seconds (spaced by `interval`, like the wait); 0 asks once, when the interval allows."""
    reason = check_cancel_reason(reason)
    invoice, requested_by = requested_invoice(store, account, deal_id, requested_by, "cancellation")
    if invoice.status == InvoiceStatus.CANCELLED:
        return CancelResult(invoice, True, _("deal {deal}: the invoice was already cancelled").format(deal=deal_id))
    if invoice.status != InvoiceStatus.ISSUED:
        if invoice.status == InvoiceStatus.ERROR:
            template = _(
                "deal {deal}: only an issued invoice can be cancelled; this one is {status} (nothing was issued, "
                "nothing to cancel)"
            )
        else:
            template = _(
                "deal {deal}: only an issued invoice can be cancelled; this one is {status}; wait until it is issued"
            )
        raise CancelNotAllowedError(template.format(deal=deal_id, status=invoice.status))
    if invoice.cancel_pending:
        # A cancellation was sent before: Omie may have done it already; look before sending again.
        check_once(client, store, invoice, interval, clock)
        invoice = _load(store, account, deal_id)
        if invoice.status == InvoiceStatus.CANCELLED:
            return CancelResult(invoice, True, _("deal {deal}: Omie confirms the cancellation").format(deal=deal_id))
    with store.begin() as connection:
        if not request_cancel(connection, invoice, reason, requested_by, clock()):
            raise CancelNotAllowedError(
                _("deal {deal}: the invoice changed meanwhile; look at it again").format(deal=deal_id)
            )
    try:
        client.cancel_os(nCodOS=invoice.omie_os_id, cancel_nfse=True)
    except errors.OutcomeUnknownError:
        return CancelResult(
            _load(store, account, deal_id),
            False,
            _(
                "deal {deal}: the answer to CancelarOS was lost; the cancellation stays pending and the status "
                "refresh (or running this command again) confirms it"
            ).format(deal=deal_id),
        )
    except (errors.RefusedError, errors.ValidationError, errors.NotFoundError) as refusal:
        message = safe_message(refusal.faultstring or refusal.message)
        # How Omie words "cancelled already" is unconfirmed: the note's own status decides, then the words.
        current = _status_after_refusal(client, store, account, deal_id, interval, clock, sleep)
        if current.status == InvoiceStatus.CANCELLED:
            return CancelResult(
                current,
                True,
                _("deal {deal}: Omie shows the note cancelled (its answer to CancelarOS: {message})").format(
                    deal=deal_id, message=message
                ),
            )
        if already_cancelled(message):
            return CancelResult(
                current,
                False,
                _(
                    "deal {deal}: Omie says the note is cancelled already ({message}); the status refresh confirms it"
                ).format(deal=deal_id, message=message),
            )
        with store.begin() as connection:
            withdraw_cancel(connection, current, clock(), f"cancellation refused by Omie: {message}")
        raise CancelRefusedError(
            _("deal {deal}: Omie refused the cancellation: {message}").format(deal=deal_id, message=message),
            cancel_fix_for(message, deal_id),
        ) from refusal
    with store.begin() as connection:
        current = get_invoice_by_id(connection, invoice.id) or invoice  # or: set aside meanwhile
        add_event(
            connection,
            account,
            deal_id,
            clock(),
            current.status,
            current.status,
            "CancelarOS accepted (NFS-e cancellation requested); awaiting Omie's confirmation",
        )
    invoice = poll_invoice(
        client,
        store,
        account,
        deal_id,
        lambda current: not current.cancel_pending,
        timeout=confirm_timeout,
        interval=interval,
        clock=clock,
        sleep=sleep,
    ).invoice
    confirmed = invoice.status == InvoiceStatus.CANCELLED
    return CancelResult(
        invoice,
        confirmed,
        (
            _("deal {deal}: cancelled; Omie confirms it")
            if confirmed
            else _("deal {deal}: cancellation sent; Omie has not confirmed it yet (the status refresh follows it)")
        ).format(deal=deal_id),
    )
