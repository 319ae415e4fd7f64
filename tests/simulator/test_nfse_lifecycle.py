"""The NFS-e life of an invoiced OS: RPS 001 -> 002 -> 004 or 003, cancellation to 005, listings and files."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from decimal import Decimal

import requests

OS = "servicos/os/"
OSP = "servicos/osp/"
NFSE = "servicos/nfse/"


def _invoiced_order(omie, client_param, order_param, code="OS-N1", document="11.222.333/0001-81", item=None):
    client = omie.ok("geral/clientes/", "IncluirCliente", client_param(f"CLI-{code}", document))
    items = [item] if item else []
    omie.ok(OS, "IncluirOS", order_param(code, client["codigo_cliente_omie"], *items))
    answer = omie.ok(OSP, "FaturarOS", {"cCodIntOS": code})
    assert answer["cCodStatus"] == "0"
    return answer["nCodOS"]


def _rps(omie, code, **options):
    rows = omie.ok(OS, "StatusOS", {"cCodIntOS": code, **options})["ListaRpsNfse"]
    assert len(rows) == 1
    return rows[0]


def _statuses_until_final(omie, code, timeout=5.0):
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = _rps(omie, code)["cStatusRps"]
        if not seen or seen[-1] != status:
            seen.append(status)
        if status in ("003", "004"):
            return seen
        time.sleep(0.02)
    return seen


def test_invoiced_order_goes_001_002_004_with_number_code_and_links(make_sim, caller, client_param, order_param):
    sim = make_sim(nfse_delay=(0.6, 0.6))
    omie = caller(sim)
    _invoiced_order(omie, client_param, order_param)
    assert _statuses_until_final(omie, "OS-N1") == ["001", "002", "004"]
    status = omie.ok(OS, "StatusOS", {"cCodIntOS": "OS-N1", "lPdfDemo": True})
    assert (status["cFaturada"], status["cCancelada"], status["cEtapa"]) == ("S", "N", "60")
    rps = status["ListaRpsNfse"][0]
    assert rps["nNfse"].isdigit() and int(rps["nNfse"]) > 0 and len(rps["cCodVerif"]) == 8 and rps["cProtocolo"]
    assert isinstance(rps["nRps"], str) and rps["nRps"].isdigit(), "nRps and nNfse are text in Omie's WSDL"
    assert rps["mensagens"] == [], "without lMsg only ERRO lines are returned"
    pdf = requests.get(rps["cUrlPdfDemo"], timeout=5)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert rps["danfe"] == rps["cUrlNfse"] and rps["cUrlPdfDemo"] != rps["danfe"]
    xml = ET.fromstring(requests.get(rps["xml_distr"], timeout=5).content)
    assert xml.find(".//{*}Numero").text == str(rps["nNfse"])
    history = _rps(omie, "OS-N1", lMsg=True)["mensagens"]
    assert [m["cCodigo"] for m in history] == ["004", "002", "001"], "lMsg: all messages, newest first"


def test_listar_nfses_shows_the_issued_note_with_its_taxes(make_sim, caller, client_param, order_param):
    omie = caller(make_sim())
    item = {"cCodIntServico": "SRV-LIMPEZA", "nQtde": 2, "nValUnit": 1500.55}
    n_cod_os = _invoiced_order(omie, client_param, order_param, item=item)
    assert _statuses_until_final(omie, "OS-N1")[-1] == "004"
    found = omie.ok(NFSE, "ListarNFSEs", {"nPagina": 1, "nRegPorPagina": 20})["nfseEncontradas"]
    assert len(found) == 1
    note = found[0]
    rps = _rps(omie, "OS-N1")
    assert note["Cabecalho"]["cStatusNFSe"] == "F" and str(note["Cabecalho"]["nNumeroNFSe"]) == rps["nNfse"]
    assert (
        note["Cabecalho"]["cCNPJDestinatario"] == "11.222.333/0001-81" and note["OrdemServico"]["nCodigoOS"] == n_cod_os
    )
    values = {k: Decimal(str(v)) if isinstance(v, (int, float)) else v for k, v in note["Valores"].items()}
    total = Decimal("3001.10")
    assert values["nValorTotalServicos"] == total
    assert values["nValorISS"] == Decimal("150.06") and values["cIssRetido"] == "S" and values["nAliquotaISS"] == 5
    assert values["nValorINSS"] == Decimal("330.12") and values["nValorIR"] == Decimal("30.01")
    retained = sum(
        values[k] for k in ("nValorISS", "nValorINSS", "nValorIR", "nValorPIS", "nValorCOFINS", "nValorCSLL")
    )
    assert values["nValorLiquido"] == total - retained
    service = note["ListaServicos"][0]
    assert (service["CodigoLC116"], service["cRetINSS"], service["nAliquotaINSS"]) == ("7.10", "S", 11.0)
    documents = omie.ok("servicos/osdocs/", "ObterNFSe", {"nIdNf": note["Cabecalho"]["nCodNF"]})
    assert documents["cNumNFSe"] == str(rps["nNfse"]) and documents["cCodVerif"] == rps["cCodVerif"]
    assert "<Numero>" in documents["cXmlNFSe"]
    assert requests.get(documents["cPdfNFSe"], timeout=5).content.startswith(b"%PDF")


def test_rejected_rps_ends_in_003_with_its_erro_lines_and_is_not_listed(make_sim, caller, client_param, order_param):
    omie = caller(make_sim(rejection_rate=1.0))
    _invoiced_order(omie, client_param, order_param)
    assert _statuses_until_final(omie, "OS-N1")[-1] == "003"
    rps = _rps(omie, "OS-N1")
    assert rps["nNfse"] == "" and rps["danfe"] == ""
    errors = rps["mensagens"]
    assert 1 <= len(errors) <= 3 and all(m["cSituacao"] == "ERRO" and m["cCorrecao"] for m in errors)
    assert len({(m["dData"], m["hHora"]) for m in errors}) == 1, "one rejection: its lines share one moment"
    assert omie.ok(NFSE, "ListarNFSEs", {"nPagina": 1})["nfseEncontradas"] == [], "a rejected RPS has no note"


def test_rejections_often_carry_several_erro_lines(make_sim, caller, client_param, order_param):
    omie = caller(make_sim(rejection_rate=1.0))
    _invoiced_order(omie, client_param, order_param)
    client_id = omie.ok(OS, "ConsultarOS", {"cCodIntOS": "OS-N1"})["Cabecalho"]["nCodCli"]
    codes = [f"OS-M{n}" for n in range(8)]
    for code in codes:
        omie.ok(OS, "IncluirOS", order_param(code, client_id))
        assert omie.ok(OSP, "FaturarOS", {"cCodIntOS": code})["cCodStatus"] == "0"
    counts = {len(_rps(omie, code)["mensagens"]) for code in codes if _statuses_until_final(omie, code)[-1] == "003"}
    assert max(counts) > 1 and min(counts) >= 1


def test_rps_and_nfse_numbers_keep_leading_zeros(make_sim, caller, client_param, order_param):
    omie = caller(make_sim(number_width=8))
    _invoiced_order(omie, client_param, order_param)
    assert _statuses_until_final(omie, "OS-N1")[-1] == "004"
    rps = _rps(omie, "OS-N1")
    assert len(rps["nRps"]) == len(rps["nNfse"]) == 8 and rps["nNfse"].startswith("0")


def test_cancel_leads_to_005_and_C_and_is_refused_while_processing(make_sim, caller, client_param, order_param):
    omie = caller(make_sim(nfse_delay=(0.5, 0.5)))
    _invoiced_order(omie, client_param, order_param)
    _, fault = omie.fault(OSP, "CancelarOS", {"cCodIntOS": "OS-N1"})
    assert "processamento" in fault["faultstring"]
    again = omie.ok(OSP, "FaturarOS", {"cCodIntOS": "OS-N1"})
    assert again["cCodStatus"] == "1" and "já foi faturada" in again["cDescStatus"]
    assert _statuses_until_final(omie, "OS-N1")[-1] == "004"
    answer = omie.ok(OSP, "CancelarOS", {"cCodIntOS": "OS-N1"})
    assert answer["cCodStatus"] == "0"
    status = omie.ok(OS, "StatusOS", {"cCodIntOS": "OS-N1"})
    assert status["cCancelada"] == "S" and status["dDtCanc"] and status["ListaRpsNfse"][0]["cStatusRps"] == "005"
    note = omie.ok(NFSE, "ListarNFSEs", {"nPagina": 1, "cStatusNFSe": "C"})["nfseEncontradas"][0]
    assert note["Cancelamento"]["cDataCancelamento"] == status["dDtCanc"]
    _, fault = omie.fault(OSP, "CancelarOS", {"cCodIntOS": "OS-N1"})
    assert "já está cancelada" in fault["faultstring"]
    refused = omie.ok(OSP, "FaturarOS", {"cCodIntOS": "OS-N1"})
    assert refused["cCodStatus"] == "1" and "cancelada" in refused["cDescStatus"]
    assert _rps(omie, "OS-N1")["cStatusRps"] == "005", "invoicing a cancelled OS starts no new RPS"


def test_cancel_of_an_order_never_invoiced_is_refused_and_blank_code_is_60_spaces(omie, client_param, order_param):
    client = omie.ok("geral/clientes/", "IncluirCliente", client_param("CLI-X", "11.222.333/0001-81"))
    created = omie.ok(OS, "IncluirOS", order_param("", client["codigo_cliente_omie"]))
    _, fault = omie.fault(OSP, "CancelarOS", {"nCodOS": created["nCodOS"]})
    assert "não está faturada" in fault["faultstring"]
    assert omie.ok(OSP, "ValidarOS", {"nCodOS": created["nCodOS"]})["cCodIntOS"] == " " * 60


def test_listar_nfses_filters_by_emission_date_and_pages_without_5113(make_sim, caller, client_param, order_param):
    omie = caller(make_sim(nfse_delay=(0.05, 0.1)))
    for n, document in enumerate(("11.222.333/0001-81", "529.982.247-25", "12.ABC.345/01DE-35")):
        _invoiced_order(omie, client_param, order_param, code=f"OS-P{n}", document=document)
    for n in range(3):
        assert _statuses_until_final(omie, f"OS-P{n}")[-1] == "004"
    today = omie.ok(OS, "StatusOS", {"cCodIntOS": "OS-P0"})["dDtFat"]
    first = omie.ok(NFSE, "ListarNFSEs", {"nPagina": 1, "nRegPorPagina": 2, "dEmiInicial": today, "dEmiFinal": today})
    assert (first["nTotPaginas"], first["nTotRegistros"], first["nRegistros"]) == (2, 3, 2)
    second = omie.ok(NFSE, "ListarNFSEs", {"nPagina": 2, "nRegPorPagina": 2, "dEmiInicial": today, "dEmiFinal": today})
    numbers = {n["Cabecalho"]["nNumeroNFSe"] for n in first["nfseEncontradas"] + second["nfseEncontradas"]}
    assert len(numbers) == 3
    past_end = omie.ok(NFSE, "ListarNFSEs", {"nPagina": 3, "nRegPorPagina": 2})
    assert past_end["nfseEncontradas"] == [] and past_end["nRegistros"] == 0
    other_days = omie.ok(NFSE, "ListarNFSEs", {"nPagina": 1, "dEmiInicial": "01/01/2020", "dEmiFinal": "31/12/2020"})
    assert other_days["nfseEncontradas"] == [] and other_days["nTotRegistros"] == 0
    person = [n for n in first["nfseEncontradas"] + second["nfseEncontradas"] if n["Cabecalho"]["cCPFDestinatario"]]
    assert [n["Cabecalho"]["cCPFDestinatario"] for n in person] == ["529.982.247-25"]


def test_same_seed_same_data_and_same_nfse_fate(make_sim, caller, client_param, order_param):
    def run(seed):
        sim = make_sim(seed=seed, nfse_delay=(0.05, 0.1))
        omie = caller(sim)
        clients = omie.ok("geral/clientes/", "ListarClientes", {"pagina": 1, "registros_por_pagina": 50})[
            "clientes_cadastro"
        ]
        _invoiced_order(omie, client_param, order_param)
        _statuses_until_final(omie, "OS-N1")
        rps = _rps(omie, "OS-N1")
        order = next(iter(sim.state.orders.values()))
        fate = (rps["nNfse"], rps["cCodVerif"], rps["cProtocolo"], rps["nRps"], order.rps.settle_after)
        return [{k: v for k, v in c.items() if k != "info"} for c in clients], fate

    clients_a, fate_a = run(21)
    clients_b, fate_b = run(21)
    clients_c, fate_c = run(22)
    assert clients_a == clients_b and fate_a == fate_b
    assert clients_a != clients_c and fate_a != fate_c
