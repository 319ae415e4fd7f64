"""What an Omie client record must hold for Omie to bill an NFS-e to it.

`ValidarOS`/`FaturarOS` refuse an OS whose client lacks the e-mail ("Para emitir ... falta preencher
o E-mail", omie-api.md §15), the CNPJ/CPF or a full address. A client the pipeline finds in Omie is
never changed by it (clients are only ever created), so a gap in Omie's record is for a person to
fill there; knowing it before `IncluirOS` keeps an order that can never be billed out of Omie.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omie_pipeline.domain.emails import is_usable_email
from omie_pipeline.i18n import N_

# Omie client tag -> (the deal's field for the same fact, the name people read), in Omie's screen order.
BILLING_FIELDS: dict[str, tuple[str, str]] = {
    "cnpj_cpf": ("document", "CNPJ/CPF"),
    "endereco": ("street", N_("street (Endereço)")),
    "endereco_numero": ("number", N_("street number (Número)")),
    "bairro": ("district", N_("district (Bairro)")),
    "cidade": ("city", N_("city (Cidade)")),
    "estado": ("state", N_("state (Estado)")),
    "cep": ("zip", "CEP"),
    "email": ("email", "e-mail"),
}


def billing_gaps(record: Mapping[str, Any]) -> list[str]:
    """The Omie tags of `record` (a client as Omie sends it) that keep Omie from billing a note to it."""
    gaps = [tag for tag in BILLING_FIELDS if not str(record.get(tag) or "").strip()]
    if "email" not in gaps and not is_usable_email(str(record.get("email"))):
        gaps.append("email")
    return gaps
