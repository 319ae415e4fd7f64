"""Which refusals are looked up before a deal is marked: those naming the integration code or the document."""

from __future__ import annotations

import pytest

from omie_pipeline.omie import errors
from omie_pipeline.sync.duplicates import names_document, names_integration_code

KEY = "acme-3f9c2a"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("O Código de Integração da OS [acme-3f9c2a] está em uso por outra Ordem de Serviço.", True),
        ("ERROR: Tag [cCodIntOS] com conteúdo repetido!", True),
        ("Registro duplicado para acme-3f9c2a", True),
        ("ERROR: Serviço não cadastrado para o Código do Serviço [123] !", False),
        ("Não foi possível faturar a OS: certificado digital vencido.", False),
    ],
)
def test_a_refusal_names_the_integration_code(text: str, named: bool) -> None:
    assert names_integration_code(errors.RefusedError(text, faultstring=text), KEY) is named


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("O CPF/CNPJ [27.836.512/0001-49] está em uso por outro cliente.", True),
        ("Documento 27836512000149 repetido", True),
        ("ERROR: Informe o nome fantasia!", False),
    ],
)
def test_a_refusal_names_the_document(text: str, named: bool) -> None:
    assert names_document(errors.RefusedError(text, faultstring=text), "27836512000149") is named
