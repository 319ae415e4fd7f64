"""What a person does about an invoice Omie or the prefeitura refused, in plain words.

Omie's and the prefeitura's messages say what is wrong, in Portuguese and in their own terms; the
on-call person needs the next step. Known causes are matched on the message text (accents and case
ignored, as Omie's wording varies); anything unknown gets the prefeitura's own correction when it
sent one, else the general way out. Messages are stored with CPFs masked.
"""

from __future__ import annotations

import unicodedata

from omie_pipeline.domain.privacy import redact_cpfs

RESEND = "then resend the NFS-e from the OS in Omie; the next status refresh picks up the result"

# (words that must all appear in the message, the fix). The first match wins.
KNOWN_CAUSES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("e-mail",), f"add the client's e-mail in the CRM (or in Omie's client record), {RESEND}"),
    (("endereco",), "complete the client's address (street, number, district, city, state, CEP) in the CRM "
                    f"or in Omie, {RESEND}"),
    (("cnpj/cpf",), f"correct the client's CNPJ/CPF in the CRM and in Omie, {RESEND}"),
    (("inativo",), f"reactivate the client in Omie (or link the deal to an active client), {RESEND}"),
    (("ja foi faturada",), "nothing to fix: the OS was already invoiced in Omie; the status refresh adopts its NFS-e"),
    (("cancelada",), "the OS is cancelled in Omie: reissue it there (AssociarCodIntOS) or close the deal as not invoiced"),
    (("e0014",), "the prefeitura saw the RPS/DPS number twice: resend the RPS from Omie with a new number"),
    (("e0310",), f"the service's national tax code is unknown: fix the service (LC 116 / national code) in Omie's catalog, {RESEND}"),
    (("e0604",), f"remove the ISS rate from the service for the special tax regime in Omie's catalog, {RESEND}"),
    (("e0116",), f"the client's city does not match the CEP: correct the address in the CRM and in Omie, {RESEND}"),
    (("e0150",), f"correct the client's municipal registration (inscrição municipal) in Omie, {RESEND}"),
    (("certificado",), f"renew or re-upload the company's digital certificate in Omie, {RESEND}"),
    (("servico",), f"check the service in Omie's catalog (active, LC 116 and municipal codes), {RESEND}"),
)
GENERAL_FIX = f"read Omie's message above, correct the cause in the CRM or in Omie, {RESEND}"


def _plain(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char)).lower()


def fix_for(message: str, correction: str | None = None) -> str:
    """The next step for a refusal `message`; the prefeitura's `correction` when nothing is known."""
    text = _plain(message)
    for words, fix in KNOWN_CAUSES:
        if all(word in text for word in words):
            return fix
    correction = (correction or "").strip()
    return f"{redact_cpfs(correction)} ({RESEND})" if correction else GENERAL_FIX


def safe_message(message: str) -> str:
    """Omie's message as stored and shown: CPFs masked, surrounding space dropped."""
    return redact_cpfs(message.strip())
