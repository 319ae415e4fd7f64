"""geral/empresas and servicos/servico: the company, its regime, the catalog and runtime rate changes."""

from __future__ import annotations

import pytest

from omie_pipeline.simulator import documents


def test_listar_empresas_returns_the_company_and_page_past_end_repeats_page_1(omie):
    body = omie.ok("geral/empresas/", "ListarEmpresas", {"pagina": 1, "registros_por_pagina": 1})
    company = body["empresas_cadastro"][0]
    assert documents.is_valid_cnpj(company["cnpj"])
    assert company["cidade"] == "SAO PAULO (SP)" and company["gera_nfse"] == "S"
    again = omie.ok("geral/empresas/", "ListarEmpresas", {"pagina": 5, "registros_por_pagina": 1})
    assert again["pagina"] == 1 and again["empresas_cadastro"] == [company]
    assert omie.ok("geral/empresas/", "ConsultarEmpresa", {"codigo_empresa": company["codigo_empresa"]}) == company
    status, fault = omie.fault("geral/empresas/", "ConsultarEmpresa", {"codigo_empresa": 1})
    assert status == 500 and "[1]" in fault["faultstring"]


@pytest.mark.parametrize(
    "regime, code, simples, pis",
    [
        ("Simples Nacional", "1", "S", 0.0),
        ("Lucro Presumido", "3", "N", 0.65),
        ("Lucro Real", "4", "N", 1.65),
    ],
)
def test_regime_sets_company_code_and_catalog_rates(make_sim, caller, regime, code, simples, pis):
    omie = caller(make_sim(regime=regime))
    company = omie.ok("geral/empresas/", "ListarEmpresas", {"pagina": 1})["empresas_cadastro"][0]
    assert (company["regime_tributario"], company["optante_simples_nacional"]) == (code, simples)
    development = omie.ok("servicos/servico/", "ConsultarCadastroServico", {"cCodIntServ": "SRV-DESENVOLVIMENTO"})
    assert development["impostos"]["nAliqPIS"] == pis


def test_catalog_has_distinct_lc116_codes_realistic_rates_retentions_and_an_inactive_service(omie):
    body = omie.ok("servicos/servico/", "ListarCadastroServico", {"nPagina": 1, "nRegPorPagina": 50})
    services = body["cadastros"]
    assert body["nTotRegistros"] == len(services) >= 6
    active = [s for s in services if s["info"]["inativo"] == "N"]
    assert len({s["cabecalho"]["cCodLC116"] for s in active}) >= 5
    assert len(active) == len(services) - 1
    for service in services:
        assert 2.0 <= service["impostos"]["nAliqISS"] <= 5.0
        assert set(service["intListar"]) == {"cCodIntServ", "nCodServ"}
        assert {"dAlt", "hAlt"} <= set(service["info"])
    consulting = next(s for s in services if s["intListar"]["cCodIntServ"] == "SRV-CONSULTORIA")
    assert (consulting["impostos"]["nAliqIR"], consulting["impostos"]["cRetIR"]) == (1.5, "S")
    assert (consulting["impostos"]["nAliqPIS"], consulting["impostos"]["nAliqCOFINS"]) == (0.65, 3.0)


def test_catalog_paging_filters_and_5113(omie):
    first = omie.ok("servicos/servico/", "ListarCadastroServico", {"nPagina": 1, "nRegPorPagina": 3})
    assert (first["nRegistros"], first["nTotPaginas"]) == (3, 3)
    status, fault = omie.fault("servicos/servico/", "ListarCadastroServico", {"nPagina": 4, "nRegPorPagina": 3})
    assert fault["faultcode"] == "SOAP-ENV:Client-5113"
    inactive = omie.ok("servicos/servico/", "ListarCadastroServico", {"nPagina": 1, "inativo": "S"})
    assert [s["intListar"]["cCodIntServ"] for s in inactive["cadastros"]] == ["SRV-HOSPEDAGEM"]
    prefixed = omie.ok("servicos/servico/", "ListarCadastroServico", {"nPagina": 1, "cDescricao": "Consult%"})
    assert [s["intListar"]["cCodIntServ"] for s in prefixed["cadastros"]] == ["SRV-CONSULTORIA"]


def test_consultar_servico_by_id_or_code_and_not_found(omie):
    by_code = omie.ok("servicos/servico/", "ConsultarCadastroServico", {"cCodIntServ": "SRV-SUPORTE"})
    by_id = omie.ok("servicos/servico/", "ConsultarCadastroServico", {"nCodServ": by_code["intListar"]["nCodServ"]})
    assert by_code == by_id
    status, fault = omie.fault("servicos/servico/", "ConsultarCadastroServico", {"cCodIntServ": "NOPE"})
    assert status == 500 and fault == {
        "faultstring": "ERROR: Serviço não cadastrado para o Código de integração do Serviço [NOPE] ! "
        "Tag [cCodIntServ]!",
        "faultcode": "SOAP-ENV:Client-5002",
    }


def test_rate_change_at_runtime_is_visible_and_stamps_the_change_date(omie, sim, caller):
    before = omie.ok("servicos/servico/", "ConsultarCadastroServico", {"cCodIntServ": "SRV-SUPORTE"})
    with sim.state.lock:
        sim.state.services[before["intListar"]["nCodServ"]]["info"].update(dAlt="01/01/2020", hAlt="00:00:00")
    answer = omie.control("services", {"cCodIntServ": "SRV-SUPORTE", "impostos": {"nAliqISS": 5}})
    assert answer["impostos"]["nAliqISS"] == 5.0
    after = omie.ok("servicos/servico/", "ConsultarCadastroServico", {"cCodIntServ": "SRV-SUPORTE"})
    assert after["impostos"]["nAliqISS"] == 5.0 and after["info"]["dAlt"] != "01/01/2020"
    changed_today = omie.ok(
        "servicos/servico/",
        "ListarCadastroServico",
        {"nPagina": 1, "dAlteracaoInicial": after["info"]["dAlt"], "dAlteracaoFinal": after["info"]["dAlt"]},
    )
    assert "SRV-SUPORTE" in [s["intListar"]["cCodIntServ"] for s in changed_today["cadastros"]]
    sim.update_service("SRV-SUPORTE", nAliqISS="3.5", cRetISS="S")
    final = omie.ok("servicos/servico/", "ConsultarCadastroServico", {"cCodIntServ": "SRV-SUPORTE"})
    assert (final["impostos"]["nAliqISS"], final["impostos"]["cRetISS"]) == (3.5, "S")
    response = omie.session.post(
        sim.control_url + "services", json={"cCodIntServ": "SRV-SUPORTE", "impostos": {"nAliqXYZ": 1}}
    )
    assert response.status_code == 400 and "nAliqXYZ" in response.json()["error"]
