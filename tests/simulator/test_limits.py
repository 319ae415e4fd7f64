"""Omie's limits over real HTTP, with short windows: each trips exactly at its threshold and resets."""

from __future__ import annotations

import re
import threading
import time

CLIENTS = "geral/clientes/"
EMPRESAS = "geral/empresas/"


def _wait_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.monotonic()))


def test_per_method_limit_trips_at_threshold_does_not_charge_rejections_and_slides(make_sim, caller):
    sim = make_sim(window_seconds=1.5, per_method_limit=5, per_ip_limit=100)
    omie = caller(sim)
    started = time.monotonic()
    assert [omie.post(CLIENTS, "ListarClientes", {"pagina": 1}).status_code for _ in range(5)] == [200] * 5
    rejected = omie.post(CLIENTS, "ListarClientes", {"pagina": 1})
    assert rejected.status_code == 429
    assert (
        rejected.json()["faultcode"] == "SOAP-ENV:Client-429" and "Too many Requests" in rejected.json()["faultstring"]
    )
    assert omie.post(EMPRESAS, "ListarEmpresas", {"pagina": 1}).status_code == 200, "other methods have their own quota"
    _wait_until(started + 0.6)
    assert [omie.post(CLIENTS, "ListarClientes", {"pagina": 1}).status_code for _ in range(3)] == [429] * 3
    _wait_until(started + 1.6)
    statuses = [omie.post(CLIENTS, "ListarClientes", {"pagina": 1}).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429], "rejected calls consumed no quota; the first five left the window"
    stats = sim.stats()
    assert stats["rejected"]["429"] == 5 and stats["rate_limited_by_scope"]["method"] == 5
    assert stats["calls"]["ListarClientes"] == 15


def test_per_ip_limit_counts_every_method_and_resets_after_the_window(make_sim, caller):
    sim = make_sim(window_seconds=1.0, per_method_limit=5, per_ip_limit=8)
    omie = caller(sim)
    statuses = [omie.post(CLIENTS, "ListarClientes", {"pagina": 1}).status_code for _ in range(5)]
    statuses += [omie.post(EMPRESAS, "ListarEmpresas", {"pagina": 1}).status_code for _ in range(3)]
    assert statuses == [200] * 8
    over = omie.post("servicos/servico/", "ListarCadastroServico", {"nPagina": 1})
    assert over.status_code == 429 and "(ip)" in over.json()["faultstring"]
    assert sim.stats()["rate_limited_by_scope"] == {"ip": 1, "method": 0}
    time.sleep(1.05)
    assert omie.post("servicos/servico/", "ListarCadastroServico", {"nPagina": 1}).status_code == 200


def _in_flight(sim, call, count, calls, omie, param):
    threads = [threading.Thread(target=lambda: calls.append(omie.post(*param).status_code)) for _ in range(count)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 3
    while sim.stats()["peak_concurrency"].get(call, 0) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    return threads


def test_fifth_concurrent_call_of_a_method_gets_client_1880(make_sim, caller):
    sim = make_sim(max_concurrent_per_method=4)
    sim.set_faults(slow_next=4, slow_seconds=0.8, methods=["ListarEmpresas"])
    answered: list[int] = []
    threads = _in_flight(sim, "ListarEmpresas", 4, answered, caller(sim), (EMPRESAS, "ListarEmpresas", {"pagina": 1}))
    omie = caller(sim)
    fifth = omie.post(EMPRESAS, "ListarEmpresas", {"pagina": 1})
    assert fifth.status_code == 500
    assert fifth.json() == {
        "faultstring": "ERROR: Já existe uma requisição desse método sendo executada e você pode tentar novamente em "
        "alguns instantes. (1)",
        "faultcode": "SOAP-ENV:Client-1880",
    }
    assert omie.post(CLIENTS, "ListarClientes", {"pagina": 1}).status_code == 200, "other methods are not blocked"
    for thread in threads:
        thread.join()
    assert answered == [200] * 4
    assert omie.post(EMPRESAS, "ListarEmpresas", {"pagina": 1}).status_code == 200
    stats = sim.stats()
    assert stats["rejected"]["concurrency"] == 1 and stats["peak_concurrency"]["ListarEmpresas"] == 4


def test_serialised_method_allows_only_one_call_at_a_time(make_sim, caller):
    sim = make_sim(serialised_methods=frozenset({"ListarEmpresas"}))
    sim.set_faults(slow_next=1, slow_seconds=0.6, methods=["ListarEmpresas"])
    answered: list[int] = []
    threads = _in_flight(sim, "ListarEmpresas", 1, answered, caller(sim), (EMPRESAS, "ListarEmpresas", {"pagina": 1}))
    second = caller(sim).post(EMPRESAS, "ListarEmpresas", {"pagina": 1})
    assert second.status_code == 500 and second.json()["faultcode"] == "SOAP-ENV:Client-1880"
    for thread in threads:
        thread.join()
    assert answered == [200]


def test_redundant_call_is_refused_with_the_seconds_to_wait_for_reads_and_writes(make_sim, caller, client_param):
    sim = make_sim(redundant_seconds=2.0)
    omie = caller(sim)
    some_id = sorted(sim.state.clients)[0]
    assert omie.post(CLIENTS, "ConsultarCliente", {"codigo_cliente_omie": some_id}).status_code == 200
    repeat = omie.post(CLIENTS, "ConsultarCliente", {"codigo_cliente_omie": some_id})
    assert repeat.status_code == 500
    assert repeat.json() == {
        "faultstring": "ERROR: Consumo redundante detectado. Aguarde 2 segundos para tentar novamente (REDUNDANT).",
        "faultcode": "SOAP-ENV:Client-6",
    }
    other_id = sorted(sim.state.clients)[1]
    assert omie.post(CLIENTS, "ConsultarCliente", {"codigo_cliente_omie": other_id}).status_code == 200
    write = client_param("RED-1", "11.222.333/0001-81")
    assert omie.post(CLIENTS, "IncluirCliente", write).status_code == 200
    again = omie.post(CLIENTS, "IncluirCliente", write)
    assert again.json()["faultcode"] == "SOAP-ENV:Client-6", "a repeated write is redundant before it is a duplicate"
    time.sleep(1.1)
    waiting = omie.post(CLIENTS, "ConsultarCliente", {"codigo_cliente_omie": some_id}).json()["faultstring"]
    assert re.search(r"Aguarde (\d+) segundos", waiting).group(1) == "1"
    time.sleep(1.0)
    assert omie.post(CLIENTS, "ConsultarCliente", {"codigo_cliente_omie": some_id}).status_code == 200
    assert sim.stats()["rejected"]["redundant"] == 3


def test_misuse_block_after_consecutive_errors_answers_425_until_it_ends(make_sim, caller):
    sim = make_sim(misuse_error_threshold=3, misuse_block_seconds=1.0)
    omie = caller(sim)
    for _ in range(2):
        assert omie.post(CLIENTS, "ConsultarCliente", {"codigo_cliente_omie": 1}).status_code == 500
    assert (
        omie.post(CLIENTS, "ConsultarCliente", {"codigo_cliente_omie": sorted(sim.state.clients)[0]}).status_code == 200
    )
    for _ in range(5):
        assert omie.post(CLIENTS, "ListarClientes", {"pagina": 99}).json()["faultcode"] == "SOAP-ENV:Client-5113"
    for _ in range(3):
        assert omie.post(CLIENTS, "ConsultarCliente", {"codigo_cliente_omie": 1}).status_code == 500
    blocked = omie.post(EMPRESAS, "ListarEmpresas", {"pagina": 1})
    assert blocked.status_code == 425
    assert blocked.json() == {
        "faultstring": "ERROR: API bloqueada por consumo indevido. Tente novamente em 1 segundos.",
        "faultcode": "MISUSE_API_PROCESS",
    }
    stats = sim.stats()
    assert (
        stats["rejected"]["425"] == 1
        and stats["misuse_blocks_started"] == 1
        and stats["errors"]["ConsultarCliente"] == 5
    )
    time.sleep(1.05)
    assert omie.post(EMPRESAS, "ListarEmpresas", {"pagina": 1}).status_code == 200
