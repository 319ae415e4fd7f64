"""The request envelope keeps money exact, and log text hides secrets and personal data."""

from __future__ import annotations

import json
from decimal import Decimal

from omie_pipeline.omie import wire


def test_envelope_has_omies_shape_and_exact_decimals():
    body = wire.request_body("IncluirOS", "123", "s3cret", {"nValUnit": Decimal("1234.50"), "nQtde": 1, "x": "ç"})
    assert body.decode("utf-8") == (
        '{"call":"IncluirOS","app_key":"123","app_secret":"s3cret","param":[{"nValUnit":1234.50,"nQtde":1,"x":"ç"}]}'
    )
    assert json.loads(body)["param"][0]["nValUnit"] == 1234.5


def test_answers_read_fractions_as_decimal():
    answer = wire.parse_json('{"nValorTot": 0.1, "nCodOS": 12}')
    assert answer == {"nValorTot": Decimal("0.1"), "nCodOS": 12}
    assert isinstance(answer["nValorTot"], Decimal)


def test_log_text_masks_documents_contacts_and_the_secret():
    text = wire.loggable(
        {
            "cnpj_cpf": "529.982.247-25",
            "email": "maria.souza@example.com",
            "telefone1_numero": "98765-4321",
            "obs": "CPF 52998224725 e chave s3cret",
            "razao_social": "ACME",
        },
        "s3cret",
    )
    assert "529.982.247-25" not in text and "52998224725" not in text
    assert "maria.souza" not in text and "98765" not in text
    assert "s3cret" not in text
    assert "ACME" in text
