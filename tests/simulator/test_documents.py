"""The simulator's own CPF/CNPJ check digits agree with the Receita's rules and an independent library."""

from __future__ import annotations

import random

import pytest
from stdnum.br import cnpj as stdnum_cnpj
from stdnum.br import cpf as stdnum_cpf

from omie_pipeline.simulator import documents


@pytest.mark.parametrize(
    "value",
    [
        "12.ABC.345/01DE-35",
        "12abc34501de35",
        "11.222.333/0001-81",
        "529.982.247-25",
        "52998224725",
        "00.000.000/0001-91",
        "00000000000191",
    ],
)
def test_valid_documents_are_accepted(value: str) -> None:
    assert documents.is_valid(value)


@pytest.mark.parametrize(
    "value",
    [
        "12.ABC.345/01DE-36",
        "11.222.333/0001-80",
        "529.982.247-24",
        "111.111.111-11",
        "00.000.000/0000-00",
        "1234567890",
        "12ABC34501DEX5",
        "",
    ],
)
def test_invalid_documents_are_refused(value: str) -> None:
    assert not documents.is_valid(value)


@pytest.mark.parametrize("value", ["00000000000191", "00000000000000", "00000000000190", "00000000000272"])
def test_cnpjs_with_a_zero_root_are_judged_as_an_independent_validator_judges_them(value: str) -> None:
    assert documents.is_valid_cnpj(value) == stdnum_cnpj.is_valid(value)


def test_formatting_follows_omies_stored_form() -> None:
    assert documents.formatted("12abc34501de35") == "12.ABC.345/01DE-35"
    assert documents.formatted("52998224725") == "529.982.247-25"


def test_generated_documents_pass_an_independent_validator() -> None:
    rng = random.Random(11)
    for _ in range(200):
        assert stdnum_cpf.is_valid(documents.generate_cpf(rng))
        assert stdnum_cnpj.is_valid(documents.generate_cnpj(rng))
        alphanumeric = documents.generate_cnpj(rng, alphanumeric=True)
        assert not alphanumeric[:8].isdigit()
        assert stdnum_cnpj.is_valid(alphanumeric)
