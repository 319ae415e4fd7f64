"""What a deal waits on, and what fixes it, is stored in the language of the process that found it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from omie_pipeline.domain.deal import CANONICAL_COLUMNS, Deal, _message_of
from omie_pipeline.domain.documents import InvalidDocumentError, parse_document
from omie_pipeline.domain.taxes import Regime, TaxRates, check_rates
from omie_pipeline.sources.base import SourceRow
from omie_pipeline.store import Store
from omie_pipeline.store.catalog import ProductServiceError, find_product_service
from omie_pipeline.store.tables import deal_issues
from omie_pipeline.sync.client_payload import client_problems
from omie_pipeline.sync.deals import pull_deals
from omie_pipeline.sync.service_map import parse_service_map
from omie_pipeline.sync.waiting import WaitingDeals


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
    assert missing.fix == "preencha street do cliente no CRM; o negócio será tentado de novo na próxima execução"
    assert too_long.message == "city tem 41 caracteres; o Omie guarda no máximo 40 em cidade"


def test_client_problems_in_english() -> None:
    [missing] = client_problems(_deal(email=""))
    assert missing.message.startswith("email is empty: Omie refuses to issue an NFS-e for a client without e-mail")
    assert missing.fix == "fill email of the client in the CRM; the deal is retried on the next run"


# --- a deal row's reasons and fixes, as the pull stores them ------------------------------------

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
BAD_CPF = "123.456.789-00"  # check digits 00; 123.456.789-09 would be valid


class _Rows:
    """Deal rows handed over as a SQL source does."""

    source_id = "list:texts"
    description = "a list of rows"

    def __init__(self, rows: list[dict[str, str]]) -> None:
        self.rows = rows

    def read(self, since: datetime | None) -> Iterator[SourceRow]:
        for position, values in enumerate(self.rows, start=1):
            yield SourceRow(position=position, values=values)


def _row(deal_id: str, **changes: str) -> dict[str, str]:
    row = {name: "" for name in CANONICAL_COLUMNS} | dict(
        deal_id=deal_id,
        status="won",
        closed_at="2026-11-20T10:00:00-03:00",
        updated_at="2026-11-20T10:05:00-03:00",
        amount="1500.00",
        product_code="CONSULTORIA",
        legal_name="Construtora Monte Verde Ltda",
        document="11.444.855/0001-28",
        email="financeiro@monteverde.com.br",
    )
    return row | changes


def _pulled_issues(store: Store) -> dict[tuple[str, str], tuple[str, str]]:
    """(deal, field) -> (message, fix) of the issues a pull of good and bad rows stored."""
    rows = [_row(f"D-{number}") for number in range(20)]
    rows[3] = _row("D-CPF", document=BAD_CPF, amount="1.234,56", email="financeiro@@monteverde.com.br")
    rows[7] = _row("D-BIG", amount="10000000.01")
    pull_deals(_Rows(rows), store, "acme", now=NOW)
    with store.connect() as connection:
        issues = connection.execute(sa.select(deal_issues).where(deal_issues.c.account == "acme")).all()
    return {(issue.deal_id, issue.field): (issue.message, issue.fix) for issue in issues}


def test_a_bad_deal_rows_reasons_and_fixes_are_stored_in_portuguese(store: Store, portuguese) -> None:
    issues = _pulled_issues(store)

    assert set(issues) == {("D-CPF", "document"), ("D-CPF", "amount"), ("D-CPF", "email"), ("D-BIG", "amount")}
    assert issues["D-CPF", "document"] == (
        "document: CPF com dígitos verificadores inválidos: eles não conferem com o resto do número, que "
        "provavelmente foi digitado errado",
        "corrija document no CRM; o negócio será tentado de novo na próxima execução",
    )
    assert issues["D-CPF", "amount"][0] == (
        "amount: o valor está na notação brasileira; escreva-o com ponto antes dos centavos e sem separador de "
        "milhar, por exemplo 1234.56"
    )
    assert issues["D-CPF", "email"][0] == (
        "email: o endereço não pode ser usado: deve ter exatamente um @; escreva no formato nome@exemplo.com.br"
    )
    assert issues["D-BIG", "amount"] == (
        "amount é R$ 10.000.000,01, acima do maior valor permitido para um negócio aqui (R$ 10.000.000,00; "
        "OMIE_PIPELINE_MAX_DEAL_AMOUNT)",
        "corrija o valor no CRM; se o negócio é mesmo desse tamanho, aumente OMIE_PIPELINE_MAX_DEAL_AMOUNT; o "
        "negócio será tentado de novo na próxima execução",
    )
    assert not any("12345678900" in message.replace(".", "").replace("-", "") for message, _fix in issues.values())


def test_a_bad_deal_rows_reasons_and_fixes_are_stored_in_english(store: Store) -> None:
    issues = _pulled_issues(store)

    assert issues["D-CPF", "document"] == (
        "document: the CPF's check digits do not match the rest of the number: it was probably mistyped",
        "correct document in the CRM; the deal is retried on the next run",
    )
    assert issues["D-BIG", "amount"][0] == (
        "amount is R$10,000,000.01, above the largest amount a deal may carry here (R$10,000,000.00; "
        "OMIE_PIPELINE_MAX_DEAL_AMOUNT)"
    )


def test_a_document_error_reads_in_portuguese_and_never_repeats_the_number(portuguese) -> None:
    with pytest.raises(InvalidDocumentError) as caught:
        parse_document("123.456.789-0")
    assert caught.value.reason == "bad_length"
    assert str(caught.value) == (
        "o documento tem 10 caracteres sem os separadores; um CPF tem 11 dígitos e um CNPJ, 14 caracteres"
    )
    assert "1234567890" not in str(caught.value)


def test_an_error_pydantic_raises_itself_is_said_in_our_words(portuguese) -> None:
    with pytest.raises(ValidationError) as caught:
        Deal.model_validate({"deal_id": "D-1", "account": "acme", "status": "won", "updated_at": NOW, "amount": "1"})
    [detail] = caught.value.errors()
    assert (detail["type"], detail["msg"]) == ("missing", "Field required")  # pydantic's own, English only
    assert _message_of(detail, "client") == "client não foi informado; é obrigatório"


# --- the other stages -----------------------------------------------------------------------------


def test_an_unmapped_product_reads_in_portuguese(store: Store, portuguese) -> None:
    with store.connect() as connection, pytest.raises(ProductServiceError) as caught:
        find_product_service(connection, "acme", "CONSULTORIA")
    assert caught.value.problem.reason.value == "unmapped"
    assert str(caught.value) == (
        "o produto CONSULTORIA não tem serviço no mapa de serviços; acrescente a linha "
        "'CONSULTORIA: <código do serviço no Omie>'"
    )


def test_an_unmapped_product_reads_in_english(store: Store) -> None:
    with store.connect() as connection, pytest.raises(ProductServiceError) as caught:
        find_product_service(connection, "acme", "CONSULTORIA")
    assert str(caught.value) == (
        "product CONSULTORIA has no service in the service map; add a line 'CONSULTORIA: <Omie service code>'"
    )


def _waiting() -> WaitingDeals:
    return WaitingDeals(
        ("D-1", "D-2"), {"IncluirOS": "misuse_risk: consumo indevido", "ValidarOS": "blocked"}, None, NOW
    )


def test_a_waiting_note_reads_in_portuguese(portuguese) -> None:
    assert _waiting().describe() == "IncluirOS pausado (misuse_risk: consumo indevido); ValidarOS pausado (blocked)"


def test_a_waiting_note_reads_in_english() -> None:
    assert _waiting().describe() == "IncluirOS paused (misuse_risk: consumo indevido); ValidarOS paused (blocked)"


def test_a_broken_tax_rule_reads_in_portuguese_with_its_rates_as_brazilians_write_them(portuguese) -> None:
    rates = TaxRates(iss=Decimal("6"), pis=Decimal("1.65"), cofins=Decimal("3"))
    messages = {problem.rule: problem.message for problem in check_rates(rates, Regime.LUCRO_PRESUMIDO)}
    assert messages == {
        "iss_range": "o ISS está em 6 %; os municípios cobram de 2 % a 5 %",
        "pis_cofins_regime": "PIS está em 1,65 %, mas no Lucro Presumido (regime cumulativo) ele é de 0,65 %",
    }


def test_a_service_map_line_left_out_reads_in_portuguese(portuguese) -> None:
    [problem] = parse_service_map("CONSULTORIA: 0012\nSUPORTE: SRV002\n").problems
    assert str(problem) == (
        "linha 1 (CONSULTORIA): o código do serviço '0012' é lido pelo YAML como um número; coloque-o entre aspas: "
        "'0012'"
    )
