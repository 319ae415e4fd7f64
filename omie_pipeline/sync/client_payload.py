"""From a stored deal to Omie's client register: what `IncluirCliente` needs, or why it cannot be sent.

Omie registers a client with shorter fields than a CRM keeps (60 characters for the legal name and
the street, 40 for the city), and the prefeitura refuses a note whose borrower has no full address.
Both are found here, before any call, and said in terms of the CRM field to correct. So is the
e-mail: Omie registers a client without one but refuses to bill its notes (ValidarOS/FaturarOS).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omie_pipeline.domain.address import phone_parts
from omie_pipeline.domain.deal import INVOICE_REQUIRED_FIELDS
from omie_pipeline.domain.documents import format_document
from omie_pipeline.i18n import _
from omie_pipeline.omie.models import ClientInput

BRAZIL = "1058"

# CRM field -> (Omie tag, Omie's length limit)
OMIE_FIELDS: dict[str, tuple[str, int]] = {
    "legal_name": ("razao_social", 60),
    "trade_name": ("nome_fantasia", 100),
    "street": ("endereco", 60),
    "number": ("endereco_numero", 60),
    "complement": ("complemento", 60),
    "district": ("bairro", 60),
    "city": ("cidade", 40),
    "email": ("email", 500),
    "municipal_registration": ("inscricao_municipal", 20),
    "state_registration": ("inscricao_estadual", 20),
}
OMIE_TAG_TO_FIELD = {tag: name for name, (tag, _) in OMIE_FIELDS.items()} | {
    "cnpj_cpf": "document",
    "estado": "state",
    "cep": "zip",
    "cidade_ibge": "city_ibge_code",
    "telefone1_ddd": "phone",
    "telefone1_numero": "phone",
    "codigo_cliente_integracao": "document",
}
# What Omie needs to register the client and the prefeitura to accept the note's borrower.
CLIENT_REQUIRED_FIELDS = tuple(name for name in INVOICE_REQUIRED_FIELDS if name not in ("product_code", "document"))


@dataclass(frozen=True)
class ClientProblem:
    """Why a deal's client cannot be registered as it is in the CRM."""

    field: str
    reason: str
    message: str
    fix: str


def client_problems(deal: Any) -> list[ClientProblem]:
    """Missing required fields and values longer than Omie keeps, for one stored deal row."""
    problems = []
    for name in CLIENT_REQUIRED_FIELDS:
        if not getattr(deal, name):
            problems.append(
                ClientProblem(
                    name,
                    "missing",
                    _why_required(name),
                    _("fill {field} of the client in the CRM; the deal is retried on the next run").format(field=name),
                )
            )
    for name, (tag, limit) in OMIE_FIELDS.items():
        value = getattr(deal, name)
        if value and len(value) > limit:
            problems.append(
                ClientProblem(
                    name,
                    "too_long_for_omie",
                    _("{field} has {length} characters; Omie keeps at most {limit} in {tag}").format(
                        field=name, length=len(value), limit=limit, tag=tag
                    ),
                    _(
                        "shorten {field} in the CRM to {limit} characters (an abbreviation Omie will print on the "
                        "invoice)"
                    ).format(field=name, limit=limit),
                )
            )
    return problems


def _why_required(name: str) -> str:
    if name == "email":
        return _(
            "email is empty: Omie refuses to issue an NFS-e for a client without e-mail, so neither the client "
            "nor the service order is created"
        )
    return _("{field} is empty: Omie needs it to register the client, and the prefeitura to accept the invoice").format(
        field=name
    )


def client_input(deal: Any, integration_code: str) -> ClientInput:
    """The `IncluirCliente` param for a deal row that has no `client_problems`."""
    ddd, number = phone_parts(deal.phone) if deal.phone else (None, None)
    return ClientInput(
        codigo_cliente_integracao=integration_code,
        razao_social=deal.legal_name,
        nome_fantasia=deal.trade_name or deal.legal_name,
        cnpj_cpf=format_document(deal.document),
        endereco=deal.street,
        endereco_numero=deal.number,
        complemento=deal.complement or None,
        bairro=deal.district,
        cidade=deal.city,
        cidade_ibge=deal.city_ibge_code or None,
        estado=deal.state,
        cep=f"{deal.zip[:5]}-{deal.zip[5:]}",
        codigo_pais=BRAZIL,
        email=deal.email or None,
        telefone1_ddd=ddd,
        telefone1_numero=number,
        inscricao_municipal=deal.municipal_registration or None,
        inscricao_estadual=deal.state_registration or None,
    )
