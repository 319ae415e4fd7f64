"""What Omie says about one invoice, read from any of its answers, and how it changes the invoice.

The status refresh, the wait, the cancellation and the recovery of an interrupted emission all
learn about invoices from different calls (ListarNFSEs, ListarOS, StatusOS, ConsultarOS). Each
answer becomes an `Observation`; `apply_observation` is the one place that turns an observation
into a status change (only along the allowed transitions, compare-and-set, one event row per
change) or into filled-in details (number, verification code, links) without a change.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from enum import StrEnum

import sqlalchemy as sa

from omie_pipeline.domain.invoice_status import (
    InvoiceStatus,
    can_transition,
    status_from_nfse_listing,
    status_from_rps,
)
from omie_pipeline.domain.timeutil import from_omie_local
from omie_pipeline.omie.models import (
    NfseRecord,
    OsRecord,
    OsStatusDetail,
    RpsMessage,
    RpsNfse,
)
from omie_pipeline.store.invoices import Invoice, change_status, update_fields
from omie_pipeline.sync.invoice_fixes import fix_for, safe_message


@dataclass(frozen=True)
class Observation:
    """One look at an invoice in Omie. `status` None means the answer says nothing about it."""

    source: str
    status: InvoiceStatus | None
    rps_status: str | None = None
    nfse_number: str | None = None
    verification_code: str | None = None
    nfse_id: int | None = None
    issued_at: datetime | None = None
    invoiced_at: datetime | None = None
    cancelled_at: datetime | None = None
    portal_url: str | None = None  # the prefeitura's page for the note (HTML), never a file to save
    error: str | None = None
    correction: str | None = None


class Applied(StrEnum):
    CHANGED = "changed"  # the status moved (an event row was written)
    UPDATED = "updated"  # same status, details filled in
    UNCHANGED = "unchanged"
    IGNORED = "ignored"  # a move the life cycle forbids (a stale answer); nothing written


def omie_moment(day: date | None, clock: time | None) -> datetime | None:
    """Omie's local date and time (São Paulo) as an aware UTC datetime; None without a date."""
    return from_omie_local(day, clock) if day is not None else None


def text_or_none(value: object) -> str | None:
    """Omie's text field, or None when it is empty."""
    text = str(value).strip() if value is not None else ""
    return text or None


def _number(value: str | None) -> str | None:
    """A note or RPS number as Omie writes it (text, leading zeros kept); None when blank or all zeros."""
    text = text_or_none(value)
    return None if text is None or not text.strip("0") else text


# --- reading Omie's answers -----------------------------------------------------------------

ATTEMPT_SPREAD = timedelta(minutes=1)  # ERRO lines this close to the newest one belong to its attempt


def _rps_order(rps: RpsNfse) -> tuple[int, int]:
    number = rps.nRps.strip()
    return (int(number) if number.isdigit() else 0, rps.nLote or 0)


def latest_rps(detail: OsStatusDetail) -> RpsNfse | None:
    """The newest RPS attempt of an OS (a rejected RPS resent in Omie gets a new number)."""
    if not detail.ListaRpsNfse:
        return None
    return max(detail.ListaRpsNfse, key=_rps_order)


def _situation(messages: list[RpsMessage], situation: str) -> list[RpsMessage]:
    return [message for message in messages if message.cSituacao.strip().upper() == situation]


def _moment(message: RpsMessage) -> datetime | None:
    return datetime.combine(message.dData, message.hHora or time.min) if message.dData is not None else None


def _newest(messages: list[RpsMessage], situation: str) -> RpsMessage | None:
    chosen = _situation(messages, situation)
    dated = [message for message in chosen if message.dData is not None]
    if dated:
        return max(dated, key=_moment)
    return chosen[0] if chosen else None


def newest_attempt_errors(messages: list[RpsMessage]) -> list[RpsMessage]:
    """Every ERRO line of the newest attempt, in the order Omie sent them.

    With `lMsg` Omie returns every line newest first, without it only ERRO lines oldest first
    (omie-api.md §10, unconfirmed): the order cannot be trusted, so the newest attempt is told by
    the lines' date and time (a rejection writes its lines together). Undated lines are all kept."""
    errors = _situation(messages, "ERRO")
    moments = [moment for message in errors if (moment := _moment(message)) is not None]
    if not moments:
        return errors
    newest = max(moments)
    return [
        message for message in errors if (moment := _moment(message)) is not None and moment >= newest - ATTEMPT_SPREAD
    ]


def _joined(parts: list[str]) -> str | None:
    kept = list(dict.fromkeys(part for part in parts if part))
    return " | ".join(kept) or None


def portal_link(rps: RpsNfse) -> str | None:
    """The prefeitura's page for the note (`cUrlNfse`, else `danfe`): what people open. The PDF's
    pre-signed link expires, so it is asked for at each download and never kept (omie-api.md §15)."""
    return text_or_none(rps.cUrlNfse) or text_or_none((rps.model_extra or {}).get("danfe"))


def _error_line(message: RpsMessage) -> str:
    code, text = message.cCodigo.strip(), message.cDescricao.strip()
    return f"{code}: {text}" if code else text


def from_status_detail(detail: OsStatusDetail, source: str = "StatusOS") -> Observation:
    """StatusOS: billing flags, the latest RPS's status, its NFS-e, links and messages."""
    rps = latest_rps(detail)
    status = status_from_rps(rps.cStatusRps if rps else None, detail.cFaturada, detail.cCancelada)
    observation = Observation(
        source=source,
        status=status,
        invoiced_at=omie_moment(detail.dDtFat, detail.cHrFat),
        cancelled_at=omie_moment(detail.dDtCanc, detail.cHrCanc),
    )
    if rps is None:
        return observation
    observation = replace(observation, rps_status=text_or_none(rps.cStatusRps))
    if status in (InvoiceStatus.ISSUED, InvoiceStatus.CANCELLED) and _number(rps.nNfse):
        # StatusOS carries no emission date: the authorisation line's moment stands in until a
        # listing gives Omie's emission date and time (a cancelled note's newest line is its cancellation).
        success = _newest(rps.mensagens, "SUCESSO") if status is InvoiceStatus.ISSUED else None
        observation = replace(
            observation,
            nfse_number=_number(rps.nNfse),
            verification_code=text_or_none(rps.cCodVerif),
            issued_at=omie_moment(success.dData, success.hHora) if success else None,
            portal_url=portal_link(rps),
        )
    if status is InvoiceStatus.ERROR:
        failures = newest_attempt_errors(rps.mensagens)
        if failures:
            observation = replace(
                observation,
                error=_joined([_error_line(failure) for failure in failures]),
                correction=_joined([failure.cCorrecao.strip() for failure in failures]),
            )
        else:
            observation = replace(
                observation, error=f"the prefeitura rejected RPS {rps.nRps} (status 003) without a message"
            )
    return observation


def from_nfse_record(record: NfseRecord) -> Observation:
    """ListarNFSEs: F issued, C cancelled, R rejected (its message needs StatusOS), N not invoiced."""
    header = record.Cabecalho
    status = status_from_nfse_listing(header.cStatusNFSe)
    observation = Observation(
        source="ListarNFSEs", status=status, rps_status=text_or_none(record.RPS.cStatusRPS), nfse_id=header.nCodNF
    )
    if status in (InvoiceStatus.ISSUED, InvoiceStatus.CANCELLED):
        observation = replace(
            observation,
            nfse_number=_number(header.nNumeroNFSe),
            verification_code=text_or_none(header.cCodigoVerifNFSe),
            issued_at=omie_moment(record.Emissao.cDataEmissao, record.Emissao.cHoraEmissao),
            cancelled_at=omie_moment(record.Cancelamento.cDataCancelamento, record.Cancelamento.cHoraCancelamento),
        )
    return observation


def from_os_record(record: OsRecord, source: str = "ListarOS") -> Observation:
    """ListarOS / ConsultarOS: only the billing flags (these answers carry no NFS-e data)."""
    info = record.InfoCadastro
    if info.cCancelada.strip().upper() == "S":
        return Observation(
            source=source, status=InvoiceStatus.CANCELLED, cancelled_at=omie_moment(info.dDtCanc, info.cHrCanc)
        )
    if info.cFaturada.strip().upper() == "S":
        return Observation(
            source=source, status=InvoiceStatus.PROCESSING, invoiced_at=omie_moment(info.dDtFat, info.cHrFat)
        )
    return Observation(source=source, status=None)


def latest_nfse_by_os(records: list[NfseRecord]) -> dict[int, NfseRecord]:
    """The newest NFS-e (highest nCodNF) of each OS in a listing."""
    latest: dict[int, NfseRecord] = {}
    for record in records:
        os_id = record.OrdemServico.nCodigoOS
        if os_id is None:
            continue
        kept = latest.get(os_id)
        if kept is None or (record.Cabecalho.nCodNF or 0) > (kept.Cabecalho.nCodNF or 0):
            latest[os_id] = record
    return latest


# --- applying an observation ----------------------------------------------------------------


EMISSION_SOURCE = "ListarNFSEs"  # the one answer with Omie's emission date and time; it overrides any other
_DETAIL_COLUMNS = ("rps_status", "nfse_number", "verification_code", "nfse_id", "portal_url")


def _describe(invoice: Invoice, observation: Observation, new: InvoiceStatus) -> str:
    source = observation.source
    if new is InvoiceStatus.ISSUED:
        return (
            f"{source}: NFS-e {observation.nfse_number or '?'} issued (verification code "
            f"{observation.verification_code or '?'})"
        )
    if new is InvoiceStatus.ERROR:
        return (
            f"{source}: rejected: {safe_message(observation.error)}"
            if observation.error
            else f"{source}: the prefeitura rejected the RPS"
        )
    if new is InvoiceStatus.CANCELLED:
        return (
            f"{source}: cancellation confirmed by Omie"
            if invoice.cancel_requested_at
            else f"{source}: cancelled in Omie (not requested through the pipeline)"
        )
    if new is InvoiceStatus.PROCESSING:
        return f"{source}: OS invoiced; the RPS is with the prefeitura"
    return f"{source}: {new.value}"


def apply_observation(
    connection: sa.Connection, invoice: Invoice | None, observation: Observation, now: datetime
) -> Applied:
    """Bring the stored invoice in line with what Omie said (see the module docstring).

    `invoice` is None when the answer no longer speaks of the stored row (see `invoice_as_asked`):
    nothing stored is changed."""
    if invoice is None:
        return Applied.IGNORED
    current = InvoiceStatus(invoice.status)
    new = observation.status
    values = {
        column: getattr(observation, column)
        for column in _DETAIL_COLUMNS
        if getattr(observation, column) is not None and getattr(observation, column) != getattr(invoice, column)
    }
    if new is None or new == current:
        if new is InvoiceStatus.ERROR and observation.error:
            message = safe_message(observation.error)
            if message != invoice.last_error:
                values.update(last_error=message, fix=fix_for(message, invoice.deal_id, observation.correction))
        emitted = observation.issued_at
        if (
            new is InvoiceStatus.ISSUED
            and emitted is not None
            and emitted != invoice.issued_at
            and (invoice.issued_at is None or observation.source == EMISSION_SOURCE)
        ):
            values["issued_at"] = emitted
        if new is InvoiceStatus.PROCESSING and invoice.submitted_at is None:
            values["submitted_at"] = observation.invoiced_at or now
        return Applied.UPDATED if update_fields(connection, invoice, values) else Applied.UNCHANGED
    if not can_transition(current, new):
        return Applied.IGNORED
    if invoice.submitted_at is None and new is not InvoiceStatus.SUBMITTED:
        values["submitted_at"] = observation.invoiced_at or now
    if new is InvoiceStatus.ISSUED:
        values["issued_at"] = observation.issued_at or invoice.issued_at or now
    if new is InvoiceStatus.ERROR:
        message = safe_message(observation.error) if observation.error else None
        values.update(
            last_error=message, fix=fix_for(message, invoice.deal_id, observation.correction) if message else None
        )
    elif invoice.last_error is not None:
        values.update(last_error=None, fix=None)
    if new is InvoiceStatus.CANCELLED:
        values["cancelled_at"] = observation.cancelled_at or now
    changed = change_status(connection, invoice, new.value, now, _describe(invoice, observation, new), values)
    return Applied.CHANGED if changed else Applied.IGNORED
