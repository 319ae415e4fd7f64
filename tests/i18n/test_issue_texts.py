"""What a deal waits on, and what fixes it, is stored in the language of the process that found it."""

from __future__ import annotations

from types import SimpleNamespace

from omie_pipeline.sync.client_payload import client_problems


def _deal(**changes) -> SimpleNamespace:
    values = dict(
        legal_name="Cliente Ltda",
        trade_name="",
        document="11444777000161",
        email="financeiro@cliente.com.br",
        street="Rua A",
        number="1",
        complement="",
        district="Centro",
        city="São Paulo",
        state="SP",
        zip="01001000",
        phone="",
        municipal_registration="",
        state_registration="",
    )
    values.update(changes)
    return SimpleNamespace(**values)


def test_client_problems_in_portuguese(portuguese) -> None:
    missing, too_long = client_problems(_deal(street="", city="X" * 41))
    assert (missing.field, missing.reason) == ("street", "missing")
    assert missing.message == (
        "street está vazio: o Omie precisa dele para cadastrar o cliente, e a prefeitura para aceitar a nota"
    )
    assert missing.fix == "preencha street do cliente no CRM; o negócio é tentado de novo no próximo run"
    assert too_long.message == "city tem 41 caracteres; o Omie guarda no máximo 40 em cidade"


def test_client_problems_in_english() -> None:
    [missing] = client_problems(_deal(email=""))
    assert missing.message.startswith("email is empty: Omie refuses to issue an NFS-e for a client without e-mail")
    assert missing.fix == "fill email of the client in the CRM; the deal is retried on the next run"
