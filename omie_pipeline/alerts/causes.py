"""Why Omie or the prefeitura refused an invoice, and what fixes it, read from their message.

Omie relays the prefeitura's words (Portuguese, each city its own wording) and sometimes its own
English; the person on call needs the cause and the next step in plain words. Each known cause is
recognised by keywords (accents and case ignored, a keyword must start a word: `cep` is not found
in `recepcao`); in one line of the message the first cause with a matching keyword wins, so the
specific ones come first. A rejection often has several lines (the prefeitura's ERRO lines, joined
by " | "): each line has its cause, and the one that decides comes first, so that a repeated RPS
number beside a wrong address never passes for "nothing to correct". A refusal not in the table
gets no guessed fix, only the way to read what Omie said.

The texts are English source text marked with `N_`, translated where they are shown (`_`). They
name the deal as `<DEAL_ID>`; `for_deal` puts the deal in before any text is stored or shown, so no
reader ever sees the placeholder (each translation keeps it).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from omie_pipeline.domain.text import plain
from omie_pipeline.i18n import N_, _, current_language, using_language

DEAL_PLACEHOLDER = "<DEAL_ID>"
RESEND = N_(
    "then bill it again with `omie-pipeline invoices retry <DEAL_ID>` (the next emission run does it by itself "
    "once the deal or its client changed) and re-check it with `omie-pipeline invoices wait <DEAL_ID>`"
)
# A refused cancellation is withdrawn (the invoice stays issued): only a person asks it again.
CANCEL_AGAIN = N_(
    'then ask the cancellation again with `omie-pipeline invoices cancel <DEAL_ID> --reason "..."` (nothing '
    "asks it again by itself)"
)


CLIENT_DATA = N_("the client's data (in the CRM deal, or in the client's record in Omie)")
SERVICE_DATA = N_("the service (in Omie's catalog or the product's line in the service map; then run the catalog job)")


@dataclass(frozen=True)
class KnownCause:
    """One row of the table: `code` is stable (it goes into webhook payloads), the rest is for people:
    `title` names the cause in a few words (an alert's subject), `cause` says it whole.

    `to_change`: what must change before the same invoice is billed again (`invoices retry`); None
    when nothing in the invoice's data is wrong and billing again is itself the fix.
    `fix` is followed by how to bill again and re-check (`RESEND`; for a cancellation, how to ask it
    again: `CANCEL_AGAIN`) unless `resend` is False: an OS already invoiced or cancelled is not billed
    again, a note past the city's deadline is not cancelled through Omie.
    `billing_again_fixes`: billing again is itself the remedy (nothing to correct, nothing to wait
    for but the prefeitura); beside another cause, its fix says nothing the other's does not.
    """

    code: str
    title: str
    cause: str
    fix: str
    keywords: tuple[str, ...]
    to_change: str | None = None
    resend: bool = True
    billing_again_fixes: bool = False

    @cached_property
    def pattern(self) -> re.Pattern[str] | None:
        if not self.keywords:
            return None
        return re.compile("|".join(rf"(?<![a-z0-9]){re.escape(word)}" for word in self.keywords))


KNOWN_CAUSES: tuple[KnownCause, ...] = (
    # Omie's own refusals of ValidarOS / FaturarOS and two prefeitura codes with a precise remedy.
    KnownCause(
        "client_without_email",
        N_("client without e-mail"),
        N_("the client's record in Omie has no e-mail, which the NFS-e needs"),
        N_("add the client's e-mail in the CRM deal and in Omie's client record"),
        ("e-mail",),
        CLIENT_DATA,
    ),
    KnownCause(
        "client_incomplete",
        N_("client record incomplete"),
        N_("the client's record in Omie lacks a field the NFS-e needs (Omie's message names it)"),
        N_(
            "fill in what Omie's message names in the client's record in Omie (the pipeline never "
            "changes clients already there) and in the CRM deal"
        ),
        ("falta preencher",),
        CLIENT_DATA,
    ),
    KnownCause(
        "client_inactive",
        N_("client inactive in Omie"),
        N_("the client is inactive in Omie"),
        N_("reactivate the client in Omie (or link the deal to an active client)"),
        ("inativo",),
        CLIENT_DATA,
    ),
    KnownCause(
        "already_invoiced",
        N_("OS already invoiced"),
        N_("the OS was already invoiced in Omie"),
        N_("nothing to fix: the OS was already invoiced in Omie; the status refresh adopts its NFS-e"),
        ("ja foi faturada",),
        N_("nothing: the OS is billed already; the status refresh follows it"),
        resend=False,
    ),
    KnownCause(
        "os_cancelled",
        N_("OS cancelled"),
        N_("the OS was cancelled in Omie"),
        N_(
            "the OS was cancelled in Omie: reissue it there (AssociarCodIntOS to a new OS), or leave "
            "the deal uninvoiced on purpose"
        ),
        ("esta cancelada",),
        N_("the OS itself: it was cancelled in Omie, so it cannot be billed again (reissue the deal instead)"),
        resend=False,
    ),
    KnownCause(
        "rps_number_repeated",
        N_("RPS number repeated"),
        N_("the prefeitura saw the RPS/DPS number twice"),
        N_("nothing to correct in the data (Omie numbers the RPS anew)"),
        ("e0014",),
        billing_again_fixes=True,
    ),
    KnownCause(
        "iss_rate_special_regime",
        N_("ISS rate in a special regime"),
        N_("the prefeitura refuses an ISS rate on a service under a special tax regime"),
        N_("remove the ISS rate from the service (special tax regime) in Omie's catalog"),
        ("e0604",),
        SERVICE_DATA,
    ),
    KnownCause(
        "certificate",
        N_("digital certificate"),
        N_("the company's digital certificate (A1) is missing, expired or not accepted by the prefeitura"),
        N_("renew or re-upload the company's A1 certificate in Omie (Configurações > Empresa > Certificado Digital)"),
        ("certificado", "certificate", "assinatura digital", "digital signature"),
    ),
    KnownCause(
        "prefeitura_unavailable",
        N_("prefeitura unavailable"),
        N_("the prefeitura's NFS-e system did not answer or is down; the invoice itself may be fine"),
        N_(
            "nothing to correct in the invoice: wait until the prefeitura's system is back (check the city's NFS-e "
            "portal)"
        ),
        (
            "indisponivel",
            "fora do ar",
            "tempo limite",
            "timeout",
            "timed out",
            "nao respondeu",
            "sem resposta",
            "falha de comunicacao",
            "erro de comunicacao",
            "manutencao",
            "unavailable",
            "service down",
            "tente novamente mais tarde",
        ),
        billing_again_fixes=True,
    ),
    KnownCause(
        "unknown_service_code",
        N_("unknown service code"),
        N_(
            "the service code on the invoice is unknown to the prefeitura, or has no LC 116 / municipal / national "
            "tax code"
        ),
        N_(
            "check the product's service code in config/service_map.yaml and the service in Omie's catalog "
            "(Cadastros > Serviços: active, LC 116, municipal and national tax codes)"
        ),
        (
            "codigo de servico",
            "codigo do servico",
            "codigo de tributacao",
            "item da lista",
            "lista de servico",
            "lc 116",
            "lc116",
            "servico nao cadastrad",
            "servico inexistente",
            "nbs",
            "cnae",
            "service code",
            "unknown service",
        ),
        SERVICE_DATA,
    ),
    KnownCause(
        "missing_address",
        N_("client address missing or inconsistent"),
        N_(
            "the client's address is missing or inconsistent (street, number, district, city, state or a CEP that "
            "does not match the city)"
        ),
        N_(
            "complete and correct the client's address in the CRM deal and in Omie's client record (the CEP must "
            "belong to the city)"
        ),
        (
            "endereco",
            "logradouro",
            "bairro",
            "cep",
            "municipio do tomador",
            "codigo do municipio",
            "municipio nao",
            "address",
            "zip code",
            "postal code",
        ),
        CLIENT_DATA,
    ),
    KnownCause(
        "invalid_document",
        N_("client document invalid"),
        N_("the client's CPF/CNPJ or municipal registration is invalid or does not match the tax records"),
        N_(
            "correct the client's CPF/CNPJ (and municipal registration, if any) in the CRM deal and in Omie's client "
            "record"
        ),
        (
            "cpf",
            "cnpj",
            "documento do tomador",
            "documento invalido",
            "inscricao municipal",
            "tomador invalid",
            "invalid document",
            "invalid taxpayer",
            "municipal registration",
        ),
        CLIENT_DATA,
    ),
)

UNKNOWN_CAUSE = KnownCause(
    "unknown",
    N_("cause not recognised"),
    N_("not one of the causes this pipeline knows: Omie's message says what is wrong"),
    N_(
        "inspect it with `omie-pipeline invoices show <DEAL_ID>` and read Omie's message (and the "
        "prefeitura's correction in Omie, Serviços > Ordens de Serviço > the OS > NFS-e) to learn what to correct, "
        "in the CRM or in Omie"
    ),
    (),
    N_("what Omie's message names (read it with `omie-pipeline invoices show <DEAL_ID>`)"),
)

_CERTIFICATE, _PREFEITURA_UNAVAILABLE = (
    next(known for known in KNOWN_CAUSES if known.code == code) for code in ("certificate", "prefeitura_unavailable")
)

# Why a cancellation (CancelarOS with the NFS-e) was refused. The city's own limits come first; of the
# billing table, only what stops any request to the prefeitura applies (a client's data or a service
# code is no reason to refuse a cancellation; a message that names one is read as an unknown refusal).
CANCEL_CAUSES: tuple[KnownCause, ...] = (
    KnownCause(
        "cancel_deadline_passed",
        N_("cancellation deadline passed"),
        N_("the city's deadline to cancel the NFS-e has passed"),
        N_(
            "the note can no longer be cancelled through Omie: issue a substitute note, or ask the prefeitura how "
            "to cancel it (each city has its own process)"
        ),
        ("prazo", "deadline", "fora do periodo"),
        resend=False,
    ),
    KnownCause(
        "cancel_iss_paid",
        N_("ISS already paid"),
        N_("the city does not cancel a note whose ISS was already paid"),
        N_(
            "the note can no longer be cancelled through Omie: ask the prefeitura to cancel it (and to refund or "
            "offset the ISS), or issue a substitute note"
        ),
        ("recolhid", "iss pago", "guia paga", "already paid"),
        resend=False,
    ),
    _CERTIFICATE,
    _PREFEITURA_UNAVAILABLE,
)


def for_deal(text: str, deal: str) -> str:
    """`text` with the deal (or the command's arguments for it) in place of `<DEAL_ID>`."""
    return text.replace(DEAL_PLACEHOLDER, deal)


def fix_for_deal(known: KnownCause, deal: str, language: str | None = None) -> str:
    """The cause's fix for `deal`, with how to resend and re-check, in `language` (default: the current one)."""
    return fix_for_causes((known,), deal, language)


def fix_for_causes(causes: Sequence[KnownCause], deal: str, language: str | None = None, then: str = RESEND) -> str:
    """The fix of one refusal's causes (`causes_for`, the deciding one first) for `deal`, each step once:
    every cause's own fix, then the step `then` once (how to resend and re-check; for a cancellation,
    `CANCEL_AGAIN`), when the deciding cause is resent. An OS that is not billed again makes the other
    fixes moot; a cause that billing again fixes by itself adds nothing beside one that needs a correction."""
    deciding = causes[0]
    if not deciding.resend:
        shown = [deciding]
    else:
        shown = [known for known in causes if not known.billing_again_fixes] or [deciding]
    with using_language(language or current_language()):
        text = "; ".join(_(known.fix) for known in shown)
        if deciding.resend:
            text = f"{text}, {_(then)}"
    return for_deal(text, deal)


def _line_cause(line: str, table: Sequence[KnownCause]) -> KnownCause:
    """The first cause of `table` whose keyword the line holds (the specific ones come first), or `UNKNOWN_CAUSE`."""
    for known in table:
        if known.pattern is not None and known.pattern.search(line):
            return known
    return UNKNOWN_CAUSE


def _deciding_first(known: KnownCause, table: Sequence[KnownCause]) -> tuple[bool, bool, int]:
    """Order of the causes of one refusal: an OS that cannot be billed again decides everything; then
    whatever must change before billing again (one nobody recognised included: only its message says
    what); then what billing again fixes by itself. The table's order within each."""
    order = table.index(known) if known in table else len(table)
    return (known.resend, known.to_change is None, order)


def _causes_in(message: str | None, table: Sequence[KnownCause]) -> tuple[KnownCause, ...]:
    lines = [line for line in plain(message or "").split("|") if line.strip()]
    found = {_line_cause(line, table) for line in lines} or {UNKNOWN_CAUSE}
    return tuple(sorted(found, key=lambda known: _deciding_first(known, table)))


def causes_for(message: str | None) -> tuple[KnownCause, ...]:
    """Every cause of Omie's/the prefeitura's `message`, one per distinct line (`|`-separated), the one
    that decides first; `(UNKNOWN_CAUSE,)` for an empty or unrecognised message."""
    return _causes_in(message, KNOWN_CAUSES)


def cancel_causes_for(message: str | None) -> tuple[KnownCause, ...]:
    """`causes_for` of a refused cancellation, read with `CANCEL_CAUSES`."""
    return _causes_in(message, CANCEL_CAUSES)


def cause_for(message: str | None) -> KnownCause:
    """The cause that decides what to do about `message` (`causes_for`'s first), or `UNKNOWN_CAUSE`."""
    return causes_for(message)[0]


@dataclass(frozen=True)
class RunCause:
    """A known reason for a failed sync run: recognised by the error's class or its words."""

    code: str
    first_check: str
    error_classes: tuple[str, ...]
    keywords: tuple[str, ...]

    def matches_words(self, message: str) -> bool:
        text = plain(message)
        return any(keyword in text for keyword in self.keywords)


RUN_CAUSES: tuple[RunCause, ...] = (
    RunCause(
        "credentials",
        N_(
            "Omie refused the credentials: check OMIE_APP_KEY and OMIE_APP_SECRET of this account, then run "
            "`omie-pipeline check-connection`"
        ),
        ("AuthenticationError",),
        ("chave de acesso", "omie_app_key", "omie_app_secret", "app_key", "app_secret"),
    ),
    RunCause(
        "account_blocked",
        N_(
            "Omie blocked the app for misuse (too many failing calls): do not re-run in a loop; wait the time Omie "
            "gives (`omie-pipeline check-connection` shows it), then re-execute"
        ),
        ("BlockedError", "MisuseRiskError"),
        ("bloqueada", "consumo indevido", "misuse_api_process"),
    ),
    RunCause(
        "rate_limited",
        N_("Omie's request limits were hit: check that no other process uses the same app key, then re-execute"),
        ("RateLimitedError", "ConcurrencyError", "RedundantRequestError"),
        ("too many requests", "consumo redundante", "ja existe uma requisicao"),
    ),
    RunCause(
        "omie_unavailable",
        N_(
            "Omie did not answer (timeouts, 5xx): check Omie's status, then re-execute from failure; issuing is "
            "safe to repeat, each invoice is sent at most once"
        ),
        ("TransientError", "OutcomeUnknownError", "ConnectionError", "ReadTimeout", "ConnectTimeout"),
        ("timed out", "connection reset", "connection refused", "service unavailable", "bad gateway"),
    ),
    RunCause(
        "configuration",
        N_(
            "a setting is missing or malformed: the error names the environment variable; fix it where the code "
            "location's environment is defined"
        ),
        ("SettingsError",),
        ("invalid configuration", "missing omie_"),
    ),
    RunCause(
        "state_store",
        N_(
            "the state store's database could not be used: check that OMIE_PIPELINE_DB_URL's database is up and "
            "reachable"
        ),
        ("OperationalError", "InterfaceError"),
        ("could not connect to server", "database is locked", "connection to server"),
    ),
)

GENERAL_RUN_CHECK = N_(
    "read the error in the run's logs (link below); once the cause is fixed, re-execute the run "
    "from failure in the Dagster UI"
)


def run_cause_for(error_class: str, message: str) -> RunCause | None:
    """The known reason a run failed, or None: the error's class decides first, its words second."""
    for known in RUN_CAUSES:
        if error_class in known.error_classes:
            return known
    for known in RUN_CAUSES:
        if known.matches_words(message):
            return known
    return None
