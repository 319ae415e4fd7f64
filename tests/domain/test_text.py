"""Plain text: how Omie's and the prefeituras' words are compared."""

from __future__ import annotations

from omie_pipeline.domain.text import plain


def test_accents_and_case_do_not_matter():
    assert plain("Não FOI faturada") == "nao foi faturada"
    assert plain("Endereço, CEP e Razão Social") == "endereco, cep e razao social"
    assert plain("ÇÃÕÊ") == "caoe" and plain("") == ""
