"""Every typed call against the simulator over HTTP, with paging walked to the last page."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from omie_pipeline.domain.timeutil import now_utc, to_sao_paulo
from omie_pipeline.omie import errors
from omie_pipeline.omie.models import ClientInput, OsRecord, OsStatusDetail
from omie_pipeline.simulator.clock import parse_omie_date
from support.simulated_omie import client_for

from .conftest import billable_client, first_service_id, os_param


def test_list_clients_walks_every_page_and_stops_at_the_last(make_sim):
    sim = make_sim(clients=23)
    client = client_for(sim)

    records = list(client.list_clients(page_size=5))

    assert sorted(record.codigo_cliente_omie for record in records) == sorted(sim.state.clients)
    stats = sim.stats()
    assert stats["calls"]["ListarClientes"] == 5  # pages 1..5, none past the end
    assert "SOAP-ENV:Client-5113" not in stats["faults_by_code"]
    assert client.metrics()["ListarClientes"]["calls"] == 5


def test_list_clients_changed_since_keeps_created_or_changed_records(make_sim):
    sim = make_sim(clients=30)
    client = client_for(sim)
    with sim.state.lock:
        infos = {cid: rec["info"] for cid, rec in sim.state.clients.items()}
    days = sorted(parse_omie_date(info["dAlt"]) for info in infos.values())
    since = days[len(days) // 2]
    expected = {
        cid
        for cid, info in infos.items()
        if parse_omie_date(info["dAlt"]) >= since or parse_omie_date(info["dInc"]) >= since
    }

    listed = {record.codigo_cliente_omie for record in client.list_clients(changed_since=since, page_size=7)}

    assert listed == expected
    assert 0 < len(listed) < 30


def test_empty_listing_ends_quietly(sim):
    client = client_for(sim)
    assert list(client.list_clients(changed_since=date.today() + timedelta(days=30))) == []
    assert sim.stats()["faults_by_code"]["SOAP-ENV:Client-5113"] == 1


def test_listing_ends_on_the_end_of_pages_fault_when_records_vanish_midway(sim):
    client = client_for(sim)
    records = client.list_clients(page_size=10)
    first_page = [next(records) for _ in range(10)]
    with sim.state.lock:  # someone else deletes clients while the walk is on page 1
        for client_id in sorted(sim.state.clients)[5:]:
            del sim.state.clients[client_id]

    assert list(records) == []
    assert len(first_page) == 10
    assert sim.stats()["calls"]["ListarClientes"] == 2
    assert sim.stats()["faults_by_code"]["SOAP-ENV:Client-5113"] == 1


def test_find_client_by_document_in_any_punctuation(sim):
    client = client_for(sim)
    seeded = billable_client(sim)
    typed = seeded["cnpj_cpf"].replace(".", "").replace("/", "").replace("-", "").lower()

    found = client.find_client_by_document(typed)

    assert found is not None and found.codigo_cliente_omie == seeded["codigo_cliente_omie"]
    assert client.find_client_by_document("529.982.247-25") is None


def test_get_client_by_id_and_by_integration_code(sim):
    client = client_for(sim)
    status = client.include_client(
        ClientInput(
            codigo_cliente_integracao="acme-c1",
            razao_social="ACME Serviços Ltda",
            cnpj_cpf="11.222.333/0001-81",
            email="fin@acme.example",
        )
    )
    assert status.codigo_status == "0" and status.codigo_cliente_integracao == "acme-c1"

    by_id = client.get_client(codigo_cliente_omie=status.codigo_cliente_omie)
    by_code = client.get_client(codigo_cliente_integracao="acme-c1")

    assert by_id.codigo_cliente_omie == by_code.codigo_cliente_omie == status.codigo_cliente_omie
    assert by_id.razao_social == "ACME Serviços Ltda"
    with pytest.raises(errors.NotFoundError):
        client.get_client(codigo_cliente_integracao="nobody")
    with pytest.raises(ValueError):
        client.get_client()


def test_include_client_twice_reports_the_existing_id(sim):
    client = client_for(sim)
    first = client.include_client(
        {"codigo_cliente_integracao": "acme-c2", "razao_social": "ACME 2", "cnpj_cpf": "11222333000181"}
    )

    with pytest.raises(errors.AlreadyExistsError) as by_code:
        client.include_client({"codigo_cliente_integracao": "acme-c2", "razao_social": "ACME 2"})
    with pytest.raises(errors.AlreadyExistsError) as by_document:
        client.include_client(
            {"codigo_cliente_integracao": "acme-other", "razao_social": "ACME 2", "cnpj_cpf": "11.222.333/0001-81"}
        )

    assert by_code.value.existing_id == first.codigo_cliente_omie
    assert by_code.value.integration_code == "acme-c2"
    assert by_document.value.existing_id == first.codigo_cliente_omie
    assert by_document.value.integration_code == "acme-c2"


def test_upsert_by_document_changes_the_holder(sim):
    client = client_for(sim)
    seeded = billable_client(sim)

    status = client.upsert_client_by_document({"cnpj_cpf": seeded["cnpj_cpf"], "razao_social": "Renamed Ltda"})

    assert status.codigo_cliente_omie == seeded["codigo_cliente_omie"]
    assert sim.state.clients[seeded["codigo_cliente_omie"]]["razao_social"] == "Renamed Ltda"


def test_companies_stop_by_total_pages_although_omie_repeats_page_one(sim):
    client = client_for(sim)

    companies = list(client.list_companies(page_size=1))

    assert len(companies) == 1
    company = companies[0]
    assert company.cnpj == sim.state.company["cnpj"]
    assert company.issues_nfse is True
    assert client.get_company(company.codigo_empresa).razao_social == company.razao_social
    assert sim.stats()["calls"]["ListarEmpresas"] == 1


def test_service_catalog_listing_and_lookups(make_sim):
    sim = make_sim()
    client = client_for(sim)

    services = list(client.list_services(page_size=2))

    assert sorted(s.nCodServ for s in services) == sorted(sim.state.services)
    assert sim.stats()["calls"]["ListarCadastroServico"] == -(-len(services) // 2)
    chosen = services[0]
    assert isinstance(chosen.impostos.nAliqISS, Decimal)
    assert client.get_service(nCodServ=chosen.nCodServ).cabecalho.cDescricao == chosen.cabecalho.cDescricao
    assert client.get_service(cCodIntServ=chosen.intListar.cCodIntServ).nCodServ == chosen.nCodServ
    with pytest.raises(errors.NotFoundError):
        client.get_service(cCodIntServ="no-such-service")


def test_service_order_from_inclusion_to_cancellation(sim):
    client = client_for(sim)
    customer = billable_client(sim)
    service_id = first_service_id(sim)

    included = client.include_os(os_param("deal-42", customer["codigo_cliente_omie"], service_id, "1234.50"))
    assert included.cCodStatus == "0" and included.cCodIntOS == "deal-42"

    order = client.get_os(cCodIntOS="deal-42")
    assert order.nCodOS == included.nCodOS
    assert order.Cabecalho.nValorTotal == Decimal("1234.5")
    assert client.get_os(nCodOS=included.nCodOS).cCodIntOS == "deal-42"
    assert [o.nCodOS for o in client.list_os(status="N")] == [included.nCodOS]
    # A moment is listed from its day (ListarOS has no hour filter): an OS changed earlier that day is in.
    assert [o.nCodOS for o in client.list_os(datetime.now(UTC) + timedelta(seconds=1))] == [included.nCodOS]

    assert client.validate_os(nCodOS=included.nCodOS).cCodStatus == "0"
    assert client.invoice_os(cCodIntOS="deal-42").nCodOS == included.nCodOS

    detail = _wait_for_rps(client, included.nCodOS, "004")
    assert detail.cFaturada == "S"
    rps = detail.ListaRpsNfse[0]
    assert rps.nNfse
    assert rps.cUrlPdfDest == ""  # only sent when asked for
    time.sleep(sim.config.redundant_seconds)
    with_documents = client.os_status(nCodOS=included.nCodOS, documents=True, fresh=True).ListaRpsNfse[0]
    assert with_documents.cUrlPdfDest.split("?")[0].endswith(".pdf") and with_documents.cUrlNfse

    today = to_sao_paulo(now_utc()).date()
    notes = list(client.list_nfse(today - timedelta(days=1), today + timedelta(days=1), nCodigoOS=included.nCodOS))
    assert [n.Cabecalho.cStatusNFSe for n in notes] == ["F"]
    document = client.get_nfse_document(notes[0].Cabecalho.nCodNF)
    assert document.cNumNFSe == str(rps.nNfse) and "<" in document.cXmlNFSe

    cancelled = client.cancel_os(nCodOS=included.nCodOS)
    assert cancelled.cCodStatus == "0"
    assert [o.nCodOS for o in client.list_os(status="C")] == [included.nCodOS]


def test_validation_refusal_inside_http_200_is_an_error(sim):
    client = client_for(sim)
    bare = client.include_client(
        {"codigo_cliente_integracao": "no-mail", "razao_social": "Sem Email Ltda", "cnpj_cpf": "11.444.777/0001-61"}
    )
    order = client.include_os(os_param("deal-no-mail", bare.codigo_cliente_omie, first_service_id(sim)))

    with pytest.raises(errors.RefusedError) as refused:
        client.validate_os(nCodOS=order.nCodOS)

    assert refused.value.status_code == "1"
    assert refused.value.http_status == 200
    assert "falta preencher" in refused.value.faultstring and "E-mail" in refused.value.faultstring


def test_nfse_listing_walks_pages_and_ends_on_an_empty_page(make_sim):
    sim = make_sim()
    client = client_for(sim)
    customer = billable_client(sim)
    service_id = first_service_id(sim)
    ids = []
    for n in range(3):
        order = client.include_os(os_param(f"deal-p{n}", customer["codigo_cliente_omie"], service_id))
        client.invoice_os(nCodOS=order.nCodOS)
        ids.append(order.nCodOS)
    for order_id in ids:
        _wait_for_rps(client, order_id, "004")
    today = to_sao_paulo(now_utc()).date()  # Omie dates its notes in São Paulo, hours behind this machine's UTC

    notes = list(client.list_nfse(today, today + timedelta(days=1), page_size=2))
    nothing = list(client.list_nfse(today + timedelta(days=10), today + timedelta(days=11)))

    assert sorted(n.OrdemServico.nCodigoOS for n in notes) == sorted(ids)
    assert nothing == []
    assert sim.stats()["calls"]["ListarNFSEs"] == 3  # two pages, then one empty listing


def _wait_for_rps(client, order_id: int, status: str, timeout: float = 5.0):
    """Poll StatusOS (fresh answers, at Omie's pace) until the RPS reaches `status`."""
    deadline = time.monotonic() + timeout
    while True:
        detail = client.os_status(nCodOS=order_id, fresh=True)
        if detail.ListaRpsNfse and detail.ListaRpsNfse[0].cStatusRps == status:
            return detail
        if time.monotonic() > deadline:
            raise AssertionError(f"RPS of {order_id} never reached {status}: {detail.ListaRpsNfse}")
        time.sleep(0.1)


def test_blank_and_all_zero_dates_and_times_read_as_none() -> None:
    order = OsRecord.model_validate(
        {
            "Cabecalho": {"nCodOS": 7, "dDtPrevisao": "00/00/0000"},
            "InfoCadastro": {
                "dDtFat": "  /  /    ",
                "cHrFat": "  :  :  ",
                "dDtCanc": "",
                "cHrCanc": "00:00:00",
                "dDtInc": "05/03/2026",
                "cHrInc": "09:15:00",
            },
        }
    )
    info = order.InfoCadastro
    assert (order.Cabecalho.dDtPrevisao, info.dDtFat, info.cHrFat, info.dDtCanc, info.cHrCanc) == (None,) * 5
    assert (info.dDtInc, info.cHrInc.hour) == (date(2026, 3, 5), 9)
    assert OsStatusDetail.model_validate({"nCodOS": 7, "dDtFat": "00/00/0000", "cHrFat": ""}).dDtFat is None
    with pytest.raises(ValueError, match="dDtPrevisao"):
        OsRecord.model_validate({"Cabecalho": {"nCodOS": 7, "dDtPrevisao": "31/02/2026"}})
