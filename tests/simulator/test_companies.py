"""One simulator serving several Omie companies: routing by app key, isolated data, limits per key
and per IP across keys, per-company counters, and the control endpoints that name a company."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import requests

from omie_pipeline.simulator import CompanyConfig, SimulatorConfig, derived_companies

from .test_nfse_lifecycle import _invoiced_order, _rps, _statuses_until_final

CLIENTS = "geral/clientes/"
EMPRESAS = "geral/empresas/"
OS = "servicos/os/"


def _callers(sim, caller):
    return [caller(sim, app_key=key, app_secret=secret) for key, secret in sim.credentials]


def test_list_empresas_answers_each_companys_own_cnpj_and_names(make_sim, caller):
    companies = (
        CompanyConfig("111", "s-111", seed=3, cnpj="11.222.333/0001-81", razao_social="Alfa Serviços Ltda"),
        CompanyConfig("222", "s-222", seed=4),
    )
    sim = make_sim(companies=companies)
    alfa, beta = (c.ok(EMPRESAS, "ListarEmpresas", {"pagina": 1}) for c in _callers(sim, caller))
    assert alfa["total_de_registros"] == beta["total_de_registros"] == 1
    alfa, beta = alfa["empresas_cadastro"][0], beta["empresas_cadastro"][0]
    assert (alfa["cnpj"], alfa["razao_social"]) == ("11.222.333/0001-81", "Alfa Serviços Ltda")
    assert beta["cnpj"] != alfa["cnpj"] and beta["codigo_empresa"] != alfa["codigo_empresa"]
    assert beta["cnpj"] == sim.company("222").state.company["cnpj"]
    assert sim.config.app_key == "111" and sim.config.seed == 3, "the top-level fields are the first company's"


def test_a_client_created_under_one_key_is_not_seen_under_another(make_companies_sim, caller, client_param):
    sim = make_companies_sim(2, clients=5)
    a, b = _callers(sim, caller)
    created = a.ok(CLIENTS, "IncluirCliente", client_param("ISO-1", "11.222.333/0001-81"))
    assert a.ok(CLIENTS, "ListarClientes", {"pagina": 1})["total_de_registros"] == 6
    assert b.ok(CLIENTS, "ListarClientes", {"pagina": 1})["total_de_registros"] == 5
    status, fault = b.fault(CLIENTS, "ConsultarCliente", {"codigo_cliente_integracao": "ISO-1"})
    assert status == 500 and "ISO-1" in fault["faultstring"]
    # the same document is free in the other company: a company's clients are its own
    again = b.ok(CLIENTS, "IncluirCliente", client_param("ISO-1", "11.222.333/0001-81"))
    assert again["codigo_cliente_omie"] != created["codigo_cliente_omie"]


def test_the_same_ccodintos_under_two_keys_is_two_orders(make_companies_sim, caller, client_param, order_param):
    sim = make_companies_sim(2, clients=0)
    a, b = _callers(sim, caller)
    ids = [
        c.ok(CLIENTS, "IncluirCliente", client_param("C1", "11.222.333/0001-81"))["codigo_cliente_omie"] for c in (a, b)
    ]
    item_a = {"cCodIntServico": "SRV-SUPORTE", "nQtde": 1, "nValUnit": 100}
    item_b = {"cCodIntServico": "SRV-SUPORTE", "nQtde": 2, "nValUnit": 100}
    first = a.ok(OS, "IncluirOS", order_param("OS-SAME", ids[0], item_a))
    second = b.ok(OS, "IncluirOS", order_param("OS-SAME", ids[1], item_b))
    assert first["cCodStatus"] == second["cCodStatus"] == "0" and first["nCodOS"] != second["nCodOS"]
    totals = [c.ok(OS, "ConsultarOS", {"cCodIntOS": "OS-SAME"})["Cabecalho"]["nValorTotal"] for c in (a, b)]
    assert totals == [100.0, 200.0]
    _, fault = a.fault(OS, "IncluirOS", order_param("OS-SAME", ids[0], item_a))
    assert "OS-SAME" in fault["faultstring"], "a duplicate within one company is still refused"
    stats = sim.stats()["companies"]
    assert [stats[key]["data"]["orders"] for key, _ in sim.credentials] == [1, 1]
    assert sim.stats()["data"]["orders"] == 2


def test_unknown_key_and_another_companys_secret_get_the_key_fault(make_companies_sim, caller):
    sim = make_companies_sim(2)
    (key_a, secret_a), (key_b, secret_b) = sim.credentials
    for key, secret in ((key_a, secret_b), ("999", secret_a), (key_b, "")):
        status, fault = caller(sim, app_key=key, app_secret=secret).fault(EMPRESAS, "ListarEmpresas", {"pagina": 1})
        assert status == 500 and fault["faultstring"] == "A chave de acesso não está preenchida ou não é válida."
    stats = sim.stats()
    assert stats["companies"][key_a]["bad_secret_calls"] == 1 and stats["companies"][key_b]["bad_secret_calls"] == 1
    assert stats["unknown_key_calls"] == 1


def test_per_ip_limit_is_shared_by_every_key(make_companies_sim, caller):
    sim = make_companies_sim(2, window_seconds=5.0, per_method_limit=3, per_ip_limit=5)
    a, b = _callers(sim, caller)
    assert [a.post(CLIENTS, "ListarClientes", {"pagina": 1}).status_code for _ in range(3)] == [200] * 3
    assert [b.post(CLIENTS, "ListarClientes", {"pagina": 1}).status_code for _ in range(2)] == [200] * 2
    over = b.post(CLIENTS, "ListarClientes", {"pagina": 1})
    assert over.status_code == 429, "B is under its per-method limit, but the IP has used its 5 calls"
    assert over.json()["faultcode"] == "SOAP-ENV:Client-429" and "(ip)" in over.json()["faultstring"]
    stats = sim.stats()
    assert stats["rate_limited_by_scope"] == {"ip": 1, "method": 0}
    assert stats["rate_limited_by_ip"] == {"127.0.0.1": 1}
    key_a, key_b = (key for key, _ in sim.credentials)
    assert stats["companies"][key_a]["rejected"]["429"] == 0
    assert stats["companies"][key_b]["rejected"]["429"] == 1
    assert stats["companies"][key_b]["rate_limited_by_scope"] == {"ip": 1, "method": 0}


def test_per_method_limits_and_misuse_blocks_are_per_key(make_companies_sim, caller):
    sim = make_companies_sim(2, window_seconds=5.0, per_method_limit=2, misuse_error_threshold=2)
    a, b = _callers(sim, caller)
    assert [a.post(CLIENTS, "ListarClientes", {"pagina": 1}).status_code for _ in range(3)] == [200, 200, 429]
    assert [b.post(CLIENTS, "ListarClientes", {"pagina": 1}).status_code for _ in range(2)] == [200, 200]
    for _ in range(2):  # two business faults in a row block key A
        a.fault(CLIENTS, "ConsultarCliente", {"codigo_cliente_integracao": "NOPE"})
    assert a.post(EMPRESAS, "ListarEmpresas", {"pagina": 1}).status_code == 425
    assert b.post(EMPRESAS, "ListarEmpresas", {"pagina": 1}).status_code == 200, "B's key is not blocked"
    companies = sim.stats()["companies"]
    key_a, key_b = (key for key, _ in sim.credentials)
    assert companies[key_a]["misuse_blocks_started"] == 1 and companies[key_b]["misuse_blocks_started"] == 0
    assert companies[key_a]["rejected"]["425"] == 1 and companies[key_a]["errors"] == {"ConsultarCliente": 2}
    assert companies[key_a]["rate_limited_by_scope"]["method"] == 1 and companies[key_b]["rejected"]["429"] == 0


def test_company_counters_name_keys_never_secrets_and_keep_the_peak_per_window(make_companies_sim, caller):
    sim = make_companies_sim(3, window_seconds=0.5)
    a, b, _ = _callers(sim, caller)
    for _ in range(4):
        a.ok(CLIENTS, "ListarClientes", {"pagina": 1})
    b.ok(EMPRESAS, "ListarEmpresas", {"pagina": 1})
    answer = requests.get(sim.control_url + "stats", timeout=5)
    stats = answer.json()
    (key_a, _), (key_b, _), (key_c, _) = sim.credentials
    assert list(stats["companies"]) == [key_a, key_b, key_c]
    assert stats["companies"][key_a]["calls"] == {"ListarClientes": 4}
    assert stats["companies"][key_a]["peak_calls_in_window"] == {"ListarClientes": 4}
    assert stats["companies"][key_b]["calls"] == {"ListarEmpresas": 1} and stats["companies"][key_c]["calls"] == {}
    assert stats["calls"] == {"ListarClientes": 4, "ListarEmpresas": 1}, "host totals add every company"
    for _, secret in sim.credentials:
        assert secret not in answer.text
    time.sleep(0.6)  # the window moves on; the peak stays
    a.post(CLIENTS, "ListarClientes", {"pagina": 1, "registros_por_pagina": 5})
    again = sim.stats()["companies"][key_a]
    assert again["calls"]["ListarClientes"] == 5 and again["peak_calls_in_window"]["ListarClientes"] == 4


def test_seed_names_one_company_and_reset_acts_on_all(make_companies_sim, caller):
    sim = make_companies_sim(2, clients=4)
    a, b = _callers(sim, caller)
    key_b = sim.credentials[1][0]
    refused = requests.post(sim.control_url + "seed", json={"seed": 99}, timeout=5)
    assert refused.status_code == 400 and "app_key" in refused.json()["error"]
    before_a = a.ok(EMPRESAS, "ListarEmpresas", {"pagina": 1})["empresas_cadastro"][0]["cnpj"]
    answer = b.control("seed", {"seed": 99, "clients": 2, "app_key": key_b})
    assert answer == {"app_key": key_b, "seed": 99, "clients": 2}
    assert b.ok(CLIENTS, "ListarClientes", {"pagina": 1})["total_de_registros"] == 2
    assert a.ok(CLIENTS, "ListarClientes", {"pagina": 1})["total_de_registros"] == 4
    assert a.ok(EMPRESAS, "ListarEmpresas", {"pagina": 1})["empresas_cadastro"][0]["cnpj"] == before_a
    assert sim.config.companies[1].seed == 99
    a.control("reset", {})
    stats = sim.stats()
    assert stats["total_calls"] == 0 and all(c["total_calls"] == 0 for c in stats["companies"].values())
    assert stats["companies"][key_b]["data"]["clients"] == 2, "reset keeps each company's current seed"


def test_service_changes_apply_to_every_company_or_the_one_named(make_companies_sim, caller):
    sim = make_companies_sim(2)
    key_a, key_b = (key for key, _ in sim.credentials)
    sim.update_service("SRV-SUPORTE", nAliqISS=5)
    sim.update_service("SRV-TREINAMENTO", app_key=key_b, nAliqISS=4)

    def iss(key, code):
        return sim.company(key).state.service_by_code(code)["impostos"]["nAliqISS"]

    assert [iss(key_a, "SRV-SUPORTE"), iss(key_b, "SRV-SUPORTE")] == [5, 5]
    assert [iss(key_a, "SRV-TREINAMENTO"), iss(key_b, "SRV-TREINAMENTO")] == [2, 4]


def test_derived_companies_are_deterministic_and_the_first_is_the_default():
    first, second = derived_companies(2, "1234567890", "sim-secret", seed=7, clients=10)
    assert (first.app_key, first.app_secret, first.seed) == ("1234567890", "sim-secret", 7)
    assert (second.app_key, second.app_secret, second.seed) == ("1234567891", "sim-secret-2", 8)
    assert derived_companies(2, "k", "s")[1].app_key == "k-2"
    with pytest.raises(ValueError, match="repeated: 1"):
        SimulatorConfig(companies=(CompanyConfig("1", "a"), CompanyConfig("1", "b")))
    with pytest.raises(ValueError, match="not a valid CNPJ"):
        CompanyConfig("1", "a", cnpj="11.222.333/0001-00")
    assert json.dumps(SimulatorConfig().company_configs()[0].app_key) == '"1234567890"'


def test_cli_serves_n_companies_and_prints_only_their_keys():
    command = [str(Path(sys.executable).parent / "omie-pipeline"), "simulator", "--port", "0", "--clients", "2"]
    process = subprocess.Popen(
        [*command, "--companies", "2", "--app-key", "500", "--app-secret", "zq-secret"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = [process.stdout.readline() for _ in range(2)]
        base_url = re.search(r"Base URL: (\S+)", banner[0]).group(1)
        assert "500, 501" in banner[1] and "zq-secret" not in banner[1]
        cnpjs = set()
        for key, secret in (("500", "zq-secret"), ("501", "zq-secret-2")):
            envelope = {"call": "ListarEmpresas", "app_key": key, "app_secret": secret, "param": [{"pagina": 1}]}
            cnpjs.add(
                requests.post(base_url + EMPRESAS, json=envelope, timeout=5).json()["empresas_cadastro"][0]["cnpj"]
            )
        assert len(cnpjs) == 2
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
        assert process.returncode == 0, err
        assert "zq-secret" not in out
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_each_companys_note_files_open_from_its_own_links(make_companies_sim, caller, client_param, order_param):
    """Two companies' NFS-e: each link (portal, XML, signed PDF) opens that company's note."""
    sim = make_companies_sim(2, rejection_rate=0.0)
    numbers = []
    for omie in _callers(sim, caller):
        _invoiced_order(omie, client_param, order_param)
        assert _statuses_until_final(omie, "OS-N1")[-1] == "004"
        rps = _rps(omie, "OS-N1", lPdfDest=True)
        xml = requests.get(rps["xml_distr"], timeout=5)
        assert ET.fromstring(xml.content).find(".//{*}Numero").text == str(rps["nNfse"])
        assert requests.get(rps["cUrlPdfDest"], timeout=5).content.startswith(b"%PDF")
        numbers.append(rps["nNfse"])
    assert "/_sim/docs/e2/" in rps["xml_distr"]
    assert [sim.company(key).stats.snapshot()["calls"]["FaturarOS"] for key, _ in sim.credentials] == [1, 1]
    assert [c["data"]["nfses"] for c in sim.stats()["companies"].values()] == [1, 1]
