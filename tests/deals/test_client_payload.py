"""The IncluirCliente param built from a stored deal: only fields Omie takes from a caller."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from omie_pipeline.omie.models import ClientInput
from omie_pipeline.sync.client_payload import client_input


def _stored_deal(document: str, kind: str) -> SimpleNamespace:
    return SimpleNamespace(
        legal_name="Mariana Costa Ribeiro",
        trade_name=None,
        document=document,
        document_kind=kind,
        street="Rua da Bahia",
        number="1200",
        complement=None,
        district="Centro",
        city="Belo Horizonte",
        city_ibge_code=None,
        state="MG",
        zip="30160011",
        email="mariana@example.com.br",
        phone="31987654321",
        municipal_registration=None,
        state_registration=None,
    )


@pytest.mark.parametrize("document, kind", [("39053344705", "cpf"), ("27836512000149", "cnpj")])
def test_pessoa_fisica_is_never_sent_since_omie_derives_it_from_the_document(document: str, kind: str) -> None:
    param = client_input(_stored_deal(document, kind), "int-code").to_param()

    assert "pessoa_fisica" not in param
    assert param["cnpj_cpf"] and param["email"] == "mariana@example.com.br"


def test_the_client_input_model_refuses_pessoa_fisica() -> None:
    with pytest.raises(ValidationError, match="pessoa_fisica"):
        ClientInput(codigo_cliente_integracao="x", razao_social="y", pessoa_fisica="S")
