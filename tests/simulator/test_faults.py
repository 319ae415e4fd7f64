"""Failures switched on at runtime through /_sim/faults, and the control endpoints."""

from __future__ import annotations

import time

import pytest
import requests

CLIENTS = "geral/clientes/"
OS = "servicos/os/"
OSP = "servicos/osp/"


def test_http_500_for_the_next_n_calls_without_applying_them(omie, sim, client_param):
    omie.control("faults", {"http_500_next": 2})
    for code in ("F-1", "F-2"):
        response = omie.post(CLIENTS, "IncluirCliente", client_param(code, "11.222.333/0001-81"))
        assert response.status_code == 500 and response.json()["faultcode"] == "SOAP-ENV:Server"
    assert sim.state.client_by_code("F-1") is None, "an instability fault is answered before the call runs"
    assert omie.post(CLIENTS, "IncluirCliente", client_param("F-3", "11.222.333/0001-81")).status_code == 200
    assert omie.control("stats")["faults_injected"]["http_500"] == 2


def test_methods_restrict_count_faults_to_the_named_calls(omie):
    omie.control("faults", {"http_500_next": 1, "methods": ["ListarEmpresas"]})
    assert omie.post(CLIENTS, "ListarClientes", {"pagina": 1}).status_code == 200
    assert omie.post("geral/empresas/", "ListarEmpresas", {"pagina": 1}).status_code == 500
    assert omie.post("geral/empresas/", "ListarEmpresas", {"pagina": 1}).status_code == 200


def test_html_error_page(omie):
    omie.control("faults", {"html_error_next": 1})
    response = omie.post(CLIENTS, "ListarClientes", {"pagina": 1})
    assert response.status_code == 502 and response.headers["Content-Type"].startswith("text/html")
    with pytest.raises(ValueError):
        response.json()
    assert omie.post(CLIENTS, "ListarClientes", {"pagina": 1}).status_code == 200


def test_slow_answer_outlasts_the_client_timeout_but_the_write_is_applied(omie, sim, client_param):
    sim.set_faults(slow_next=1, slow_seconds=1.0)
    with pytest.raises(requests.Timeout):
        omie.post(CLIENTS, "IncluirCliente", client_param("SLOW-1", "11.222.333/0001-81"), timeout=0.3)
    assert sim.state.client_by_code("SLOW-1") is not None
    assert sim.stats()["faults_injected"]["slow"] == 1


def test_lost_response_applies_the_write_then_drops_the_connection(omie, sim, client_param, order_param):
    client = omie.ok(CLIENTS, "IncluirCliente", client_param("LOST-C", "11.222.333/0001-81"))
    sim.set_faults(lose_response_next=1, methods=["IncluirOS"])
    with pytest.raises(requests.ConnectionError):
        omie.post(OS, "IncluirOS", order_param("LOST-1", client["codigo_cliente_omie"]))
    assert sim.state.order_by_code("LOST-1") is not None
    status, fault = omie.fault(OS, "IncluirOS", order_param("LOST-1", client["codigo_cliente_omie"]))
    assert "já cadastrad" in fault["faultstring"], "the retry finds the order the lost call created"
    assert len(sim.state.orders) == 1
    stats = sim.stats()
    assert stats["faults_injected"]["lose_response"] == 1 and stats["responses_by_status"]["lost"] == 1


def test_prefeitura_rejecting_ends_every_rps_in_003_and_stuck_keeps_it_in_002(
    make_sim, caller, client_param, order_param
):
    sim = make_sim(nfse_delay=(0.05, 0.1))
    omie = caller(sim)
    client = omie.ok(CLIENTS, "IncluirCliente", client_param("PREF", "11.222.333/0001-81"))
    for code in ("P-1", "P-2"):
        omie.ok(OS, "IncluirOS", order_param(code, client["codigo_cliente_omie"]))
    omie.control("faults", {"prefeitura": "reject"})
    omie.ok(OSP, "FaturarOS", {"cCodIntOS": "P-1"})
    time.sleep(0.3)
    assert omie.ok(OS, "StatusOS", {"cCodIntOS": "P-1"})["ListaRpsNfse"][0]["cStatusRps"] == "003"
    omie.control("faults", {"prefeitura": "stuck"})
    omie.ok(OSP, "FaturarOS", {"cCodIntOS": "P-2"})
    time.sleep(0.4)
    assert omie.ok(OS, "StatusOS", {"cCodIntOS": "P-2"})["ListaRpsNfse"][0]["cStatusRps"] == "002"
    omie.control("faults", {"clear": True})
    time.sleep(0.2)
    assert omie.ok(OS, "StatusOS", {"cCodIntOS": "P-2"})["ListaRpsNfse"][0]["cStatusRps"] == "004"


def test_faturar_refuse_next_refuses_billable_orders_in_http_200_and_invoices_nothing(
    omie, sim, client_param, order_param
):
    client = omie.ok(CLIENTS, "IncluirCliente", client_param("REF", "11.222.333/0001-81"))
    created = {
        code: omie.ok(OS, "IncluirOS", order_param(code, client["codigo_cliente_omie"]))["nCodOS"]
        for code in ("R-1", "R-2")
    }
    unbillable = omie.ok(CLIENTS, "IncluirCliente", client_param("REF-X", "529.982.247-25", email=""))
    omie.ok(OS, "IncluirOS", order_param("R-X", unbillable["codigo_cliente_omie"]))
    active = omie.control("faults", {"faturar_refuse_next": 2, "methods": ["IncluirOS"]})
    assert active["faturar_refuse_next"] == 2 and active["methods"]["faturar_refuse"] == ["FaturarOS"]

    assert omie.ok(OSP, "ValidarOS", {"cCodIntOS": "R-1"})["cCodStatus"] == "0", "only FaturarOS is refused"
    assert "falta preencher o E-mail" in omie.ok(OSP, "FaturarOS", {"cCodIntOS": "R-X"})["cDescStatus"], (
        "the order's own reason comes first and uses up no injected refusal"
    )
    response = omie.post(OSP, "FaturarOS", {"cCodIntOS": "R-1"})
    assert response.status_code == 200
    assert response.json() == {
        "cCodIntOS": "R-1",
        "nCodOS": created["R-1"],
        "cCodStatus": "1",
        "cDescStatus": "Não foi possível faturar a OS: certificado digital vencido.",
    }
    assert omie.ok(OS, "StatusOS", {"cCodIntOS": "R-1"})["cFaturada"] == "N"
    assert sim.set_faults()["faturar_refuse_next"] == 1
    assert "certificado" in omie.ok(OSP, "FaturarOS", {"nCodOS": created["R-2"]})["cDescStatus"]

    for code in ("R-1", "R-2"):
        assert omie.ok(OSP, "FaturarOS", {"cCodIntOS": code})["cCodStatus"] == "0", "the switch is spent"
        assert omie.ok(OS, "StatusOS", {"cCodIntOS": code})["cFaturada"] == "S"
    stats = omie.control("stats")
    assert stats["faults_injected"]["faturar_refuse"] == 2 and stats["faults_active"]["faturar_refuse_next"] == 0


def test_faturar_refuse_next_from_python_and_cleared(omie, sim, client_param, order_param):
    client = omie.ok(CLIENTS, "IncluirCliente", client_param("REF-P", "11.222.333/0001-81"))
    omie.ok(OS, "IncluirOS", order_param("RP-1", client["codigo_cliente_omie"]))
    assert sim.set_faults(faturar_refuse_next=3)["faturar_refuse_next"] == 3
    assert omie.ok(OSP, "FaturarOS", {"cCodIntOS": "RP-1"})["cCodStatus"] == "1"
    assert sim.set_faults(clear=True)["faturar_refuse_next"] == 0
    assert omie.ok(OSP, "FaturarOS", {"cCodIntOS": "RP-1"})["cCodStatus"] == "0"


def test_bad_fault_settings_are_refused_with_the_reason(sim):
    response = requests.post(sim.control_url + "faults", json={"http_500_next": -1}, timeout=5)
    assert response.status_code == 400 and "http_500_next" in response.json()["error"]
    response = requests.post(sim.control_url + "faults", json={"explode": True}, timeout=5)
    assert response.status_code == 400 and "explode" in response.json()["error"]
    response = requests.post(sim.control_url + "faults", json={"prefeitura": "down"}, timeout=5)
    assert response.status_code == 400
    response = requests.post(sim.control_url + "faults", json={"faturar_refuse_next": "2"}, timeout=5)
    assert response.status_code == 400 and "faturar_refuse_next" in response.json()["error"]


def test_reset_and_seed_restore_fresh_data_and_counters(omie, sim, client_param):
    original = sorted(sim.state.clients)
    omie.ok(CLIENTS, "IncluirCliente", client_param("RESET-1", "11.222.333/0001-81"))
    omie.control("faults", {"http_500_next": 5})
    assert omie.control("reset", {})["reset"] is True
    assert sorted(sim.state.clients) == original
    stats = omie.control("stats")
    assert stats["total_calls"] == 0 and stats["faults_active"]["http_500_next"] == 0
    assert omie.control("seed", {"seed": 99, "clients": 3}) == {"seed": 99, "clients": 3}
    assert len(sim.state.clients) == 3 and sorted(sim.state.clients) != original[:3]


def test_duplicate_refusal_next_answers_duplicates_in_http_200_without_ja_cadastrado(
    omie, sim, client_param, order_param
):
    client = omie.ok(CLIENTS, "IncluirCliente", client_param("DUP-C", "11.222.333/0001-81"))
    first = omie.ok(OS, "IncluirOS", order_param("DUP-OS", client["codigo_cliente_omie"]))
    omie.control("faults", {"duplicate_refusal_next": 3})

    fresh = omie.ok(OS, "IncluirOS", order_param("NEW-OS", client["codigo_cliente_omie"]))
    assert fresh["cCodStatus"] == "0", "a new order uses up no injected refusal"
    os_refusal = omie.ok(OS, "IncluirOS", order_param("DUP-OS", client["codigo_cliente_omie"]))
    by_code = omie.ok(CLIENTS, "IncluirCliente", client_param("DUP-C", "529.982.247-25"))
    by_document = omie.ok(CLIENTS, "IncluirCliente", client_param("DUP-OTHER", "11.222.333/0001-81"))

    assert os_refusal["cCodStatus"] == "1" and "[DUP-OS]" in os_refusal["cDescStatus"]
    assert by_code["codigo_status"] == "1" and "Integração [DUP-C]" in by_code["descricao_status"]
    assert by_document["codigo_status"] == "1" and "11.222.333/0001-81" in by_document["descricao_status"]
    for text in (os_refusal["cDescStatus"], by_code["descricao_status"], by_document["descricao_status"]):
        assert "já cadastrad" not in text and "cadastrado anteriormente" not in text
    held = [order.n_cod_os for order in sim.state.orders.values() if order.c_cod_int_os == "DUP-OS"]
    assert held == [first["nCodOS"]]
    assert len(sim.state.clients) == sim.config.clients + 1
    stats = omie.control("stats")
    assert stats["faults_injected"]["duplicate_refusal"] == 3 and stats["faults_active"]["duplicate_refusal_next"] == 0
    again = order_param("DUP-OS", client["codigo_cliente_omie"]) | {"Observacoes": {"cObsOS": "again"}}
    status, fault = omie.fault(OS, "IncluirOS", again)
    assert status == 500 and "já cadastrad" in fault["faultstring"], "spent: Omie's known fault again"
