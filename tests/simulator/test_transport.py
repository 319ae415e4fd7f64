"""Envelope, paths, credentials, parallel serving and clean start/stop, over real HTTP."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from omie_pipeline.simulator import Simulator, SimulatorConfig

APP_SECRET = "sim-secret"


def test_success_is_http_200_with_the_methods_own_object(omie) -> None:
    body = omie.ok("geral/empresas/", "ListarEmpresas", {"pagina": 1, "registros_por_pagina": 1})
    assert set(body) == {"pagina", "total_de_paginas", "registros", "total_de_registros", "empresas_cadastro"}


def test_app_key_may_be_sent_as_a_number(sim, caller) -> None:
    assert caller(sim, app_key=1234567890).ok("geral/empresas/", "ListarEmpresas", {"pagina": 1})["registros"] == 1


@pytest.mark.parametrize("key, secret", [("1234567890", "wrong"), ("999", APP_SECRET), ("", "")])
def test_bad_credentials_are_a_server_fault(sim, caller, key: str, secret: str) -> None:
    status, body = caller(sim, app_key=key, app_secret=secret).fault("geral/empresas/", "ListarEmpresas", {"pagina": 1})
    assert status == 500
    assert body == {
        "faultstring": "A chave de acesso não está preenchida ou não é válida.",
        "faultcode": "SOAP-ENV:Server",
    }


def test_malformed_json_is_refused(sim) -> None:
    response = requests.post(
        sim.base_url + "geral/clientes/",
        data=b'{"call": "ListarClientes", ',
        timeout=5,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 500
    assert "SyntaxError" in response.json()["faultstring"]


def test_envelope_without_call_or_with_bad_param_is_refused(sim, omie) -> None:
    response = requests.post(sim.base_url + "geral/clientes/", json=[1, 2], timeout=5)
    assert response.status_code == 500 and "Invalid JSON Object" in response.json()["faultstring"]
    envelope = {"call": "ListarClientes", "app_key": "1234567890", "app_secret": APP_SECRET, "param": {"pagina": 1}}
    response = requests.post(sim.base_url + "geral/clientes/", json=envelope, timeout=5)
    assert response.status_code == 500 and "[param]" in response.json()["faultstring"]
    status, body = omie.fault("geral/clientes/", "ListarClientes", {})
    assert (status, body["faultcode"]) == (500, "SOAP-ENV:Client-71")


def test_unknown_path_call_and_get_are_refused(sim, omie) -> None:
    assert requests.post(sim.base_url + "geral/naoexiste/", json={}, timeout=5).status_code == 404
    assert requests.post(sim.base_url + "geral/clientes", json={}, timeout=5).status_code == 404, (
        "trailing slash is required"
    )
    status, body = omie.fault("geral/clientes/", "ListarTudo", {"pagina": 1})
    assert status == 500 and "ListarTudo" in body["faultstring"]
    assert requests.get(sim.base_url + "geral/clientes/", timeout=5).status_code == 405


def test_eight_calls_are_served_in_parallel(make_sim, caller) -> None:
    sim = make_sim(latency=(0.5, 0.5))
    calls = [
        ("geral/clientes/", "ListarClientes", {"pagina": page, "registros_por_pagina": 5}) for page in (1, 2, 3, 4)
    ]
    calls += [
        ("servicos/servico/", "ListarCadastroServico", {"nPagina": page, "nRegPorPagina": 1}) for page in (1, 2, 3, 4)
    ]
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda c: caller(sim).post(*c).status_code, calls))
    elapsed = time.monotonic() - started
    assert statuses == [200] * 8
    assert elapsed < 2.0, f"8 calls of 0.5 s each took {elapsed:.2f} s: not served in parallel"
    peaks = sim.stats()["peak_concurrency"]
    assert peaks["ListarClientes"] == 4 and peaks["ListarCadastroServico"] == 4


def test_stop_closes_the_port_and_context_manager_starts_on_a_free_port(caller) -> None:
    with Simulator(SimulatorConfig(clients=1)) as sim:
        url = sim.base_url
        assert sim.port > 0 and url.startswith("http://127.0.0.1:")
        assert caller(sim).ok("geral/empresas/", "ListarEmpresas", {"pagina": 1})
    with pytest.raises(requests.ConnectionError):
        requests.post(url + "geral/empresas/", json={}, timeout=2)
