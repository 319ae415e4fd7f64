"""Turn what Omie answered into the right exception, by reading Omie's text.

Omie's numeric fault codes are not stable identifiers, so the class is chosen from the
`faultstring` wording catalogued in omie-api.md §2 (accents and case ignored); the code and the
HTTP status only decide what the text leaves open.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from omie_pipeline.domain.text import plain
from omie_pipeline.omie import errors

OMIE_TIMEZONE = ZoneInfo("America/Sao_Paulo")

_SECONDS = re.compile(r"(\d+)\s*segundos?")
# "Aguarde N segundos para efetuar a requisição" / "Tente novamente em N segundos" (omie-api.md §15).
_WAIT_TEXT = re.compile(r"(?:aguarde|tente novamente em)\s+(\d+)\s*segundos?")
_CLOCK_TIME = re.compile(r"(\d{1,2}):(\d{2}):(\d{2})")
_TAG = re.compile(r"\btags?\s*\[([^\]]+)\]", re.IGNORECASE)
_EXISTING_ID = re.compile(r"(?:\bnCod\w*|\bId)\s*\[\s*(\d+)\s*\]", re.IGNORECASE)
_INTEGRATION_CODE = re.compile(r"c[oó]digo de integra[cç][aã]o[^\[]*\[([^\]]*)\]", re.IGNORECASE)


def fault_error(
    faultstring: str,
    faultcode: str = "",
    *,
    http_status: int | None = None,
    method: str | None = None,
    refusal_status: str | None = None,
) -> errors.OmieError:
    """The exception for one fault (or for a refusal: `refusal_status` is the `cCodStatus`).

    A fault whose text matches nothing known is a refusal when Omie blames the request
    (`Client-*`) and transient when it blames itself (`SOAP-ENV:Server`, an HTTP 5xx refusal body
    of unknown wording is treated the same way).
    """
    text = plain(faultstring)
    details = {"method": method, "faultstring": faultstring, "faultcode": faultcode or None, "http_status": http_status}
    message = faultstring.strip() or f"HTTP {http_status} without a description"

    if "nao existem registros" in text:
        return errors.NoRecordsError(message, **details)
    if "chave de acesso" in text or "app_key" in text or "app_secret" in text:
        return errors.AuthenticationError(message, **details)
    if _account_blocked(text) or faultcode == "MISUSE_API_PROCESS" or http_status == 425:
        retry_after = _stated_seconds(text)
        until = datetime.now(OMIE_TIMEZONE) + timedelta(seconds=retry_after) if retry_after is not None else None
        return errors.BlockedError(message, retry_after=retry_after, blocked_until=until, **details)
    if "consumo redundante" in text or "(redundant)" in text:
        seconds = _stated_seconds(text)
        # Omie's advice is to wait one second more than it says.
        return errors.RedundantRequestError(message, retry_after=None if seconds is None else seconds + 1, **details)
    if "ja foi processada ou esta sendo processada" in text:
        return errors.RedundantRequestError(message, retry_after=_seconds_until_clock_time(text), **details)
    if "ja existe uma requisicao" in text:
        return errors.ConcurrencyError(message, **details)
    throttled = _throttled(text, message, details)
    if throttled is not None:
        return throttled
    if http_status == 403:  # Omie's own fault body in a 403, of no known wording: the key (§2)
        return errors.AuthenticationError(message, **details)
    if "too many requests" in text or http_status == 429:
        return errors.RateLimitedError(message, **details)
    if http_status == 404 or ("metodo" in text and "nao existe" in text):
        return errors.ValidationError(message, field=None, **details)
    if "ja cadastrad" in text or "ja foi cadastrad" in text or ("cadastrad" in text and "anteriormente" in text):
        return errors.AlreadyExistsError(
            message, existing_id=_existing_id(faultstring), integration_code=_integration_code(faultstring), **details
        )
    if "nao cadastrad" in text or "nao encontrad" in text or "nao existe" in text:
        return errors.NotFoundError(message, **details)
    if any(
        marker in text
        for marker in (
            "obrigatori",
            "invalid",
            "syntaxerror",
            "nenhum parametro",
            "maior que o permitido",
            "nao informad",
        )
    ):
        field = tag_named(faultstring) or ("cnpj_cpf" if "cnpj/cpf" in text else None)
        return errors.ValidationError(message, field=field, **details)
    if refusal_status is not None:
        return errors.RefusedError(message, status_code=refusal_status, **details)
    if (faultcode or "").startswith("SOAP-ENV:Server") or (http_status or 0) >= 500 and not faultcode:
        return errors.TransientError(message, **details)
    return errors.RefusedError(message, **details)


def _account_blocked(text: str) -> bool:
    """Only Omie's misuse block stops the whole key; "Conta bloqueada para faturamento" and other
    texts that merely say "bloqueada" are refusals of one record (omie-api.md §15)."""
    return "api bloqueada" in text or "bloqueada por consumo indevido" in text


def _throttled(text: str, message: str, details: dict) -> errors.ThrottledError | None:
    """A refusal for pace in one of its wordings: wait N + 1 s when Omie says N, as with REDUNDANT."""
    stated = _WAIT_TEXT.search(text)
    retry_after = float(stated.group(1)) + 1 if stated else None
    if "consumo indevido" in text:
        # Nothing in this wording says the request was not run: a write is looked up before a resend.
        return errors.ThrottledError(message, retry_after=retry_after, applied_unknown=True, **details)
    if stated:
        return errors.ThrottledError(message, retry_after=retry_after, **details)
    return None


def tag_named(faultstring: str) -> str | None:
    """The first tag Omie names in `[...]` after 'tag'/'tags', e.g. `cCodIntServ`."""
    match = _TAG.search(faultstring)
    return match.group(1).strip() if match else None


def _existing_id(faultstring: str) -> int | None:
    match = _EXISTING_ID.search(faultstring)
    return int(match.group(1)) if match else None


def _integration_code(faultstring: str) -> str | None:
    match = _INTEGRATION_CODE.search(faultstring)
    return match.group(1).strip() if match and match.group(1).strip() else None


def _stated_seconds(text: str) -> float | None:
    match = _SECONDS.search(text)
    return float(match.group(1)) if match else None


def _seconds_until_clock_time(text: str) -> float | None:
    """Seconds from now until 'às HH:MM:SS' (Omie's clock, São Paulo), at least one."""
    match = _CLOCK_TIME.search(text)
    if not match:
        return None
    hour, minute, second = (int(part) for part in match.groups())
    if hour > 23 or minute > 59 or second > 59:
        return None
    now = datetime.now(OMIE_TIMEZONE)
    target = now.replace(hour=hour, minute=minute, second=second, microsecond=0)
    if target < now - timedelta(hours=12):
        target += timedelta(days=1)
    return max(1.0, (target - now).total_seconds())
