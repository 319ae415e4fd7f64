"""The invoice statuses users see, how they may change, and how Omie's signals map onto them.

`submitted` -> `processing` -> `issued` | `error`; `issued` -> `cancelled`.

Omie reports an invoice through several fields (the OS billing flags, the RPS status code, the
NFS-e listing status). Reading them in one place keeps the status refresh, the on-call re-check and
the simulator agreeing on what a combination means. An unknown code is an error, not a guess: a
wrong "issued" hides a missing tax document, a wrong "error" invites a second one.
"""

from __future__ import annotations

from enum import StrEnum


class InvoiceStatus(StrEnum):
    SUBMITTED = "submitted"  # intent recorded / OS sent to Omie, not yet billed
    PROCESSING = "processing"  # billed; the RPS is on its way to the prefeitura
    ISSUED = "issued"  # the prefeitura issued the NFS-e
    ERROR = "error"  # the prefeitura (or Omie) rejected it; a person must act
    CANCELLED = "cancelled"  # the NFS-e (or the OS billing) was cancelled


# Statuses the periodic refresh keeps polling. `issued` leaves only through a cancellation, which
# is requested on purpose; `error` waits for a person; `cancelled` is the end.
PENDING_STATUSES = frozenset({InvoiceStatus.SUBMITTED, InvoiceStatus.PROCESSING})

# Omie may skip steps between two looks (an OS billed and issued within one refresh), and an
# invoice in error may be fixed and resent inside Omie under the same key, which an explicit
# re-check then sees.
ALLOWED_TRANSITIONS: dict[InvoiceStatus, frozenset[InvoiceStatus]] = {
    InvoiceStatus.SUBMITTED: frozenset(
        {InvoiceStatus.PROCESSING, InvoiceStatus.ISSUED, InvoiceStatus.ERROR, InvoiceStatus.CANCELLED}
    ),
    InvoiceStatus.PROCESSING: frozenset({InvoiceStatus.ISSUED, InvoiceStatus.ERROR, InvoiceStatus.CANCELLED}),
    InvoiceStatus.ISSUED: frozenset({InvoiceStatus.CANCELLED}),
    InvoiceStatus.ERROR: frozenset({InvoiceStatus.PROCESSING, InvoiceStatus.ISSUED, InvoiceStatus.CANCELLED}),
    InvoiceStatus.CANCELLED: frozenset(),
}

# cStatusRps / cStatusLote codes (Omie StatusOS).
RPS_AWAITING_SEND = "001"
RPS_SENT = "002"
RPS_REJECTED = "003"
RPS_ISSUED = "004"
RPS_CANCELLED = "005"


class UnknownOmieStatusError(ValueError):
    """Omie sent a status code this pipeline does not know; the invoice keeps its last status."""


def can_transition(current: InvoiceStatus, new: InvoiceStatus) -> bool:
    """Whether `current` may become `new`; staying the same is always allowed (a refresh that saw nothing new)."""
    return current == new or new in ALLOWED_TRANSITIONS[current]


def _flag(value: str | None) -> bool:
    return (value or "").strip().upper() == "S"


def _rps_code(value: str | int | None) -> str:
    text = str(value).strip() if value is not None else ""
    return text.zfill(3) if text.isdigit() else text


def status_from_rps(c_status_rps: str | int | None, c_faturada: str | None, c_cancelada: str | None) -> InvoiceStatus:
    """The status from StatusOS: the RPS code of the latest attempt and the OS's S/N flags.

    A cancelled OS wins over everything; then the RPS code; with no RPS yet, a billed OS is
    processing and an unbilled one is still submitted. Codes may come as "4" or 4: they are
    read as "004".
    """
    if _flag(c_cancelada):
        return InvoiceStatus.CANCELLED
    code = _rps_code(c_status_rps)
    if code == RPS_CANCELLED:
        return InvoiceStatus.CANCELLED
    if code == RPS_ISSUED:
        return InvoiceStatus.ISSUED
    if code == RPS_REJECTED:
        return InvoiceStatus.ERROR
    if code in (RPS_AWAITING_SEND, RPS_SENT):
        return InvoiceStatus.PROCESSING
    if code == "":
        return InvoiceStatus.PROCESSING if _flag(c_faturada) else InvoiceStatus.SUBMITTED
    raise UnknownOmieStatusError(f"unknown RPS status code {code!r} from Omie")


def status_from_nfse_listing(c_status_nfse: str | None) -> InvoiceStatus:
    """The status from ListarNFSEs' `cStatusNFSe`: F issued, C cancelled, R rejected, N not yet billed."""
    code = (c_status_nfse or "").strip().upper()
    statuses = {
        "F": InvoiceStatus.ISSUED,
        "C": InvoiceStatus.CANCELLED,
        "R": InvoiceStatus.ERROR,
        "N": InvoiceStatus.PROCESSING,
    }
    if code not in statuses:
        raise UnknownOmieStatusError(f"unknown NFS-e status {code!r} from Omie")
    return statuses[code]
