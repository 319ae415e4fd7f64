"""Omie's JSON envelope: building the request body, reading the answer, and safe log text.

Money never passes through float: Decimals are written with their own digits and every JSON
number with a fraction is read back as a Decimal.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from omie_pipeline.domain.documents import mask_document
from omie_pipeline.domain.privacy import mask_email, mask_phone, redact_cpfs

SECRET_MASK = "***"
_DOCUMENT_TAGS = frozenset({"cnpj_cpf", "cCNPJDestinatario", "cCPFDestinatario"})
_EMAIL_TAGS = frozenset({"email", "cEnviarPara"})
_PHONE_TAGS = frozenset({"telefone1_numero", "telefone2_numero", "fax_numero"})


def to_json(value: Any) -> str:
    """Compact JSON in which a Decimal keeps exactly its digits (`Decimal("10.50")` -> `10.50`)."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot send {value} to Omie: not a finite number")
        return format(value, "f")
    if isinstance(value, Mapping):
        return (
            "{"
            + ",".join(f"{json.dumps(str(key), ensure_ascii=False)}:{to_json(item)}" for key, item in value.items())
            + "}"
        )
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(to_json(item) for item in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def request_body(method: str, app_key: str, app_secret: str, param: Mapping[str, Any]) -> bytes:
    """The body of one call: `{"call", "app_key", "app_secret", "param": [param]}` (omie-api.md §1)."""
    envelope = {"call": method, "app_key": app_key, "app_secret": app_secret, "param": [param]}
    return to_json(envelope).encode("utf-8")


def parse_json(text: str) -> Any:
    """Parse an answer, reading every number with a fraction as a Decimal."""
    return json.loads(text, parse_float=Decimal)


def redact(text: str, secret: str) -> str:
    """`text` with every occurrence of the secret replaced (Omie may echo what it was sent)."""
    return text.replace(secret, SECRET_MASK) if secret else text


def _masked(value: Any, tag: str | None = None) -> Any:
    """`value` with personal data (documents, e-mails, phones) masked, at any depth."""
    if isinstance(value, Mapping):
        return {key: _masked(item, str(key)) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_masked(item, tag) for item in value]
    if isinstance(value, str) and value:
        if tag in _DOCUMENT_TAGS:
            return mask_document(value)
        if tag in _EMAIL_TAGS:
            return mask_email(value)
        if tag in _PHONE_TAGS:
            return mask_phone(value)
    return value


def loggable(param: Mapping[str, Any], secret: str) -> str:
    """A param as log text: personal data and anything shaped like a CPF masked, and the secret."""
    return redact(redact_cpfs(to_json(_masked(param))), secret)
