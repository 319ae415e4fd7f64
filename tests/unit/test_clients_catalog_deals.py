"""Deals, clients, the catalog, tax rates and the service map (sync/), on the in-memory Omie."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from omie_pipeline.domain.taxes import Regime
from omie_pipeline.omie import errors
from omie_pipeline.omie.models import CompanyRecord, ServiceRecord
from omie_pipeline.sources import open_source
from omie_pipeline.store.tables import deal_issues, omie_clients
from omie_pipeline.sync.catalog import service_changed_at, service_row, sync_catalog
from omie_pipeline.sync.client_billing import omie_client_issues
from omie_pipeline.sync.client_index import refresh_client_index, save_listed_clients
from omie_pipeline.sync.client_payload import client_input, client_problems
from omie_pipeline.sync.clients import link_clients
from omie_pipeline.sync.deals import pull_deals, watermark_key
from omie_pipeline.sync.duplicates import names_document, names_integration_code
from omie_pipeline.sync.omie_calls import CallCounter
from omie_pipeline.sync.service_map import (
    ServiceMapError,
    load_service_map,
    parse_service_map,
    read_service_map,
    service_map_path,
)
from omie_pipeline.sync.tax_rates import (
    UnknownRegimeError,
    company_profile,
    parse_regime,
    rate_rule_violations,
    rates_from_taxes,
    services_without_rates,
    sync_tax_rates,
    the_company,
)

from .conftest import ACCOUNT, PRODUCT, SERVICE_CODE, Books

HEADER = (
    "deal_id,status,closed_at,updated_at,amount,product_code,description,legal_name,trade_name,document,"
    "email,street,number,district,city,state,zip"
)
KNOWN_CNPJ = "11444777000161"
NEW_CNPJ = "27836512000149"


def _csv(tmp_path: Path, *rows: str) -> str:
    path = tmp_path / "deals.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return str(path)


def _row(deal_id: str, document: str, *, amount: str = "1500.00", email: str = "ap@client.com") -> str:
    return (
        f"{deal_id},won,2026-11-03T10:15:00-03:00,2026-11-03T10:20:00-03:00,{amount},{PRODUCT},Consulting,"
        f"Client {deal_id} Ltda,Client {deal_id},{document},{email},Rua A,1,Centro,São Paulo,SP,01001000"
    )


def test_pull_deals_keeps_valid_deals_and_names_the_bad_field_of_the_others(store, tmp_path) -> None:
    source = open_source(
        _csv(tmp_path, _row("D1", KNOWN_CNPJ), _row("D2", "11.111.111/1111-11"), _row("D3", NEW_CNPJ, amount="abc"))
    )

    summary = pull_deals(source, store, ACCOUNT)
    again = pull_deals(source, store, ACCOUNT)

    assert summary.read == 3 and summary.valid == 1 and summary.invalid == 2
    with store.connect() as connection:
        issues = {(row.deal_id, row.field) for row in connection.execute(sa.select(deal_issues))}
    assert ("D2", "document") in issues and ("D3", "amount") in issues
    assert watermark_key(source).startswith("deals_watermark:")
    assert again.valid + again.invalid + again.stale <= 3


def test_client_index_mirrors_omie_and_links_match_create_and_adopt(fake, store, tmp_path) -> None:
    known = fake.add_client(KNOWN_CNPJ)
    pull_deals(
        open_source(_csv(tmp_path, _row("D1", KNOWN_CNPJ), _row("D2", NEW_CNPJ), _row("D3", NEW_CNPJ))), store, ACCOUNT
    )

    index = refresh_client_index(fake, store, ACCOUNT, full_refresh=True)
    links = link_clients(fake, store, ACCOUNT)

    assert index.listed == 1 and index.total == 1
    assert links.linked["matched"] == 1 and links.linked["created"] == 2 and links.clients_created == 1
    assert fake.calls["IncluirCliente"] == 1
    created = [record for record in fake.clients.values() if record["codigo_cliente_omie"] != known]
    assert [record["cnpj_cpf"] for record in created] == [NEW_CNPJ]
    assert links.calls.get("IncluirCliente") == 1


def test_a_client_listed_twice_in_one_batch_is_stored_as_its_last_record(store) -> None:
    synced = datetime(2026, 3, 2, 12, tzinfo=UTC)
    first = {
        "account": ACCOUNT,
        "codigo_cliente_omie": 7,
        "codigo_cliente_integracao": None,
        "document": KNOWN_CNPJ,
        "legal_name": "Antiga Ltda",
        "trade_name": None,
        "inactive": False,
        "billing_gaps": None,
        "changed_at": None,
        "synced_at": synced,
    }
    other = {**first, "codigo_cliente_omie": 8, "document": NEW_CNPJ, "legal_name": "Outra Ltda"}

    listed = save_listed_clients(store, [first, other, {**first, "legal_name": "Nova Ltda", "inactive": True}])

    with store.connect() as connection:
        stored = connection.execute(
            sa.select(omie_clients.c.codigo_cliente_omie, omie_clients.c.legal_name, omie_clients.c.inactive).order_by(
                omie_clients.c.codigo_cliente_omie
            )
        ).all()
    assert listed == 3
    assert [tuple(row) for row in stored] == [(7, "Nova Ltda", True), (8, "Outra Ltda", False)]
    assert save_listed_clients(store, []) == 0


def test_a_lost_incluircliente_answer_adopts_the_client_omie_registered(fake, store, tmp_path) -> None:
    pull_deals(open_source(_csv(tmp_path, _row("D1", NEW_CNPJ))), store, ACCOUNT)
    refresh_client_index(fake, store, ACCOUNT, full_refresh=True)
    fake.lose_answer("IncluirCliente")

    links = link_clients(fake, store, ACCOUNT)

    assert links.linked["adopted"] == 1 and len(fake.clients) == 1
    assert fake.calls["IncluirCliente"] == 1


def test_a_client_omie_refuses_is_an_issue_on_the_field_it_names(fake, store, tmp_path) -> None:
    pull_deals(open_source(_csv(tmp_path, _row("D1", NEW_CNPJ))), store, ACCOUNT)
    refresh_client_index(fake, store, ACCOUNT, full_refresh=True)
    fake.fail_next("IncluirCliente", errors.ValidationError("Tag [CEP] inválida", field="cep", method="IncluirCliente"))

    links = link_clients(fake, store, ACCOUNT)

    assert links.deals_with_issues == 1 and links.issues_by_reason["omie_refused"] == 1
    assert not fake.clients


def test_an_omie_client_without_e_mail_is_an_invoice_issue_naming_the_client(fake, store) -> None:
    client_id = fake.add_client(KNOWN_CNPJ, email="", razao_social="Sem Email Ltda")
    refresh_client_index(fake, store, ACCOUNT, full_refresh=True)

    with store.connect() as connection:
        issues = omie_client_issues(connection, ACCOUNT, "D9", client_id)

    assert [issue.field for issue in issues] == ["email"]
    assert "Sem Email Ltda" in issues[0].message and "D9" in issues[0].message


def test_client_payload_lists_what_is_missing_and_builds_the_omie_param() -> None:
    deal = SimpleNamespace(
        legal_name="Cliente Ltda",
        trade_name="",
        document=KNOWN_CNPJ,
        email="",
        street="Rua A",
        number="1",
        complement="",
        district="Centro",
        city="São Paulo",
        state="SP",
        zip="01001000",
        city_ibge_code="",
        phone="(11) 3456-7890",
        municipal_registration="",
        state_registration="",
    )

    problems = client_problems(deal)
    param = client_input(deal, "CLI-1").to_param()

    assert [problem.field for problem in problems] == ["email"]
    assert param["cnpj_cpf"] == "11.444.777/0001-61" and param["cep"] == "01001-000"
    assert param["nome_fantasia"] == "Cliente Ltda" and param["codigo_cliente_integracao"] == "CLI-1"


def test_refusals_naming_the_code_or_the_document_are_recognised() -> None:
    by_document = errors.RefusedError("Registro já existe: 11.444.777/0001-61")
    by_code = errors.RefusedError("Código de integração [CLI-1] já utilizado")
    neither = errors.RefusedError("Tag [EMAIL] inválida")
    assert names_document(by_document, KNOWN_CNPJ) and not names_document(by_document, NEW_CNPJ)
    assert names_integration_code(by_code, "CLI-1") and not names_integration_code(neither, "CLI-1")
    assert not names_document(neither, KNOWN_CNPJ) and not names_document(neither, None)


def test_catalog_then_rates_are_versioned_and_only_changes_make_new_versions(fake, store) -> None:
    fake.add_service(SERVICE_CODE, nAliqISS="2", nAliqPIS="0.65", nAliqCOFINS="3")

    catalog = sync_catalog(fake, store, ACCOUNT)
    first = sync_tax_rates(fake, store, ACCOUNT, confirmed_regime=Regime.LUCRO_PRESUMIDO)
    unchanged = sync_tax_rates(fake, store, ACCOUNT, confirmed_regime=Regime.LUCRO_PRESUMIDO)
    (record,) = fake.services.values()
    record["impostos"]["nAliqISS"] = "5"
    sync_catalog(fake, store, ACCOUNT, full=True)
    changed = sync_tax_rates(fake, store, ACCOUNT, confirmed_regime=Regime.LUCRO_PRESUMIDO)

    assert catalog.full and catalog.listed == 1
    assert first.versions_created == 1 and unchanged.versions_created == 0
    assert changed.versions_created == 1 and changed.versions_closed == 1


def test_service_rows_and_rates_read_from_omie_s_record(fake) -> None:
    fake.add_service(SERVICE_CODE, nAliqISS="2.5", cRetISS="S")
    (record,) = fake.list_services()
    now = datetime.now(UTC)

    row = service_row(record, ACCOUNT, now)
    rates = rates_from_taxes(record.impostos.model_dump())

    assert row["integration_code"] == SERVICE_CODE and row["account"] == ACCOUNT
    assert service_changed_at(record) is not None
    assert rates.iss == Decimal("2.5") and rates.retain_iss
    assert service_changed_at(ServiceRecord.model_validate({"intListar": {"nCodServ": 1}})) is None


def test_the_regime_comes_from_omie_or_the_confirmed_one_and_contradictions_stop(fake) -> None:
    company = the_company(fake)

    assert parse_regime(company, Regime.LUCRO_PRESUMIDO) is Regime.LUCRO_PRESUMIDO
    assert company_profile(company, Regime.LUCRO_REAL).regime is Regime.LUCRO_REAL
    with pytest.raises(UnknownRegimeError, match="OMIE_PIPELINE_TAX_REGIME"):
        parse_regime(company)
    simples = CompanyRecord.model_validate({"codigo_empresa": 1, "optante_simples_nacional": "S"})
    with pytest.raises(UnknownRegimeError, match="contradicts"):
        parse_regime(simples, Regime.LUCRO_REAL)


def test_rate_checks_name_mapped_services_without_rates_or_breaking_a_rule(books: Books) -> None:
    assert services_without_rates(books.store, ACCOUNT) == []
    assert isinstance(rate_rule_violations(books.store, ACCOUNT), list)
    books.fake.services.clear()
    sync_catalog(books.fake, books.store, ACCOUNT, full=True)
    sync_tax_rates(books.fake, books.store, ACCOUNT, confirmed_regime=Regime.LUCRO_PRESUMIDO)

    (missing,) = services_without_rates(books.store, ACCOUNT)
    assert missing.products == (PRODUCT,)


def test_the_service_map_file_is_read_checked_and_stored(store, tmp_path, monkeypatch) -> None:
    path = tmp_path / "map.yaml"
    path.write_text(f'{PRODUCT}: "1.07"\nTRAINING: "8.02"\n', encoding="utf-8")

    loaded = load_service_map(store, ACCOUNT, path)

    assert loaded.entries == {PRODUCT: "1.07", "TRAINING": "8.02"} == read_service_map(path).entries
    assert [problem.line for problem in parse_service_map('A: [1, 2]\nB: "1.07"\n').problems] == [1]
    with pytest.raises(ServiceMapError, match="line 1"):
        parse_service_map("- A\n- B\n")
    assert service_map_path(str(path)) == path


def test_call_counter_counts_only_the_calls_made_since_it_started(fake) -> None:
    list(fake.list_companies())
    counter = CallCounter(fake)
    list(fake.list_companies())
    list(fake.list_services())

    assert counter.calls() == {"ListarCadastroServico": 1, "ListarEmpresas": 1}
