"""Masking personal data (LGPD) before it reaches logs, alerts, issues and reports.

CPFs, personal e-mails and phone numbers are personal data. Whatever the pipeline writes for people
to read shows only enough of them to recognise a record, never enough to reuse it.
"""

from __future__ import annotations

import re

from omie_pipeline.domain.documents import mask_document

# A CPF written anywhere in free text: 11 digits, optionally punctuated as 000.000.000-00, and not
# part of a longer run of digits (which would be something else, such as a CNPJ or a phone).
_CPF_IN_TEXT = re.compile(r"(?<![0-9])[0-9]{3}[.\s]?[0-9]{3}[.\s]?[0-9]{3}[-\s]?[0-9]{2}(?![0-9])")
_DIGIT = re.compile(r"[0-9]")


def redact_cpfs(text: str) -> str:
    """Replace everything in free text that looks like a CPF by its masked form."""
    return _CPF_IN_TEXT.sub(lambda match: mask_document(match.group(0)), text)


def mask_email(email: str) -> str:
    """`joao.silva@example.com` -> `j***@example.com`: the domain says which company it was."""
    masked = []
    for address in re.split(r"[,;]", email):
        address = address.strip()
        if not address:
            continue
        local, at, domain = address.rpartition("@")
        masked.append(f"{local[:1]}***@{domain}" if at and local else "***")
    return ", ".join(masked)


def mask_phone(phone: str) -> str:
    """Keep only the last 4 digits: `(11) 98765-4321` -> `*******4321`."""
    digits = _DIGIT.findall(phone)
    if len(digits) <= 4:
        return "*" * len(digits)
    return "*" * (len(digits) - 4) + "".join(digits[-4:])
