"""What a person does about an invoice Omie or the prefeitura refused, in plain words.

The causes alerts also explain (certificate, prefeitura down, service code, address, document)
come from the shared table in `omie_pipeline.alerts.causes`, so an alert and `invoices show` give
the same fix. Before it, a few causes only issuing meets: Omie's own refusals of `ValidarOS` /
`FaturarOS` (client without e-mail, document or address, inactive client, OS already invoiced or cancelled) and two
prefeitura codes with a precise remedy. A refusal nobody knows gets the prefeitura's own correction
when it sent one, else the shared general advice. Messages are stored with CPFs masked.
"""

from __future__ import annotations

from omie_pipeline.alerts.causes import RESEND, UNKNOWN_CAUSE, cause_for
from omie_pipeline.domain.privacy import redact_cpfs
from omie_pipeline.domain.text import plain

# (words that must all appear in the message, the fix). The first match wins.
ISSUING_CAUSES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("e-mail",), f"add the client's e-mail in the CRM deal and in Omie's client record, {RESEND}"),
    (
        ("falta preencher",),
        "fill in what Omie's message names in the client's record in Omie (the pipeline never "
        f"changes clients already there) and in the CRM deal, {RESEND}",
    ),
    (("inativo",), f"reactivate the client in Omie (or link the deal to an active client), {RESEND}"),
    (("ja foi faturada",), "nothing to fix: the OS was already invoiced in Omie; the status refresh adopts its NFS-e"),
    (
        ("esta cancelada",),
        "the OS was cancelled in Omie: reissue it there (AssociarCodIntOS to a new OS), or leave "
        "the deal uninvoiced on purpose",
    ),
    (("e0014",), f"the prefeitura saw the RPS/DPS number twice: resend the RPS from Omie with a new number, {RESEND}"),
    (("e0604",), f"remove the ISS rate from the service (special tax regime) in Omie's catalog, {RESEND}"),
)


def fix_for(message: str, correction: str | None = None) -> str:
    """The next step for a refusal `message`; the prefeitura's `correction` when the cause is unknown."""
    text = plain(message)
    for words, fix in ISSUING_CAUSES:
        if all(word in text for word in words):
            return fix
    cause = cause_for(message)
    correction = (correction or "").strip()
    if cause is UNKNOWN_CAUSE and correction:
        return f"{redact_cpfs(correction)} ({RESEND})"
    return cause.fix


def safe_message(message: str) -> str:
    """Omie's message as stored and shown: CPFs masked, surrounding space dropped."""
    return redact_cpfs(message.strip())
