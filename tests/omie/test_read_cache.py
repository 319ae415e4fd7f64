"""The same read is never sent twice within Omie's redundancy interval."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from omie_pipeline.omie import errors
from support.simulated_omie import client_for


def test_repeated_read_is_answered_from_memory(sim):
    client = client_for(sim)
    client_id = sorted(sim.state.clients)[0]

    first = client.get_client(codigo_cliente_omie=client_id)
    again = client.get_client(codigo_cliente_omie=client_id)

    assert again == first
    assert sim.stats()["calls"]["ConsultarCliente"] == 1
    assert client.metrics()["ConsultarCliente"]["cache_hits"] == 1


def test_a_not_found_answer_is_remembered_too(sim):
    client = client_for(sim)
    for _ in range(3):
        with pytest.raises(errors.NotFoundError):
            client.get_os(cCodIntOS="missing")
    assert sim.stats()["calls"]["ConsultarOS"] == 1
    assert client.metrics()["ConsultarOS"]["cache_hits"] == 2


def test_simultaneous_identical_reads_send_one_call(sim):
    client = client_for(sim)
    company = sim.state.company["codigo_empresa"]

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda _: client.get_company(company), range(6)))

    assert len({answer.cnpj for answer in answers}) == 1
    assert sim.stats()["calls"]["ConsultarEmpresa"] == 1
    assert sum(sim.stats()["rejected"].values()) == 0


def test_read_after_a_write_waits_for_omie_and_sees_the_change(make_sim):
    sim = make_sim(redundant_seconds=1.0)
    client = client_for(sim)
    client_id = sorted(sim.state.clients)[0]
    assert client.get_client(codigo_cliente_omie=client_id).razao_social != "Depois Ltda"

    client.alter_client({"codigo_cliente_omie": client_id, "razao_social": "Depois Ltda"})
    started = time.monotonic()
    after = client.get_client(codigo_cliente_omie=client_id)

    assert after.razao_social == "Depois Ltda"
    assert sim.stats()["rejected"]["redundant"] == 0
    assert time.monotonic() - started >= 0.5  # it waited out the interval instead of being refused


def test_fresh_read_waits_out_the_interval_instead_of_being_refused(make_sim):
    sim = make_sim(redundant_seconds=1.0)
    client = client_for(sim)
    company = sim.state.company["codigo_empresa"]
    client.get_company(company)

    started = time.monotonic()
    client.call("geral/empresas/", "ConsultarEmpresa", {"codigo_empresa": company}, fresh=True)

    assert time.monotonic() - started >= 0.9
    assert sim.stats()["calls"]["ConsultarEmpresa"] == 2
    assert sim.stats()["rejected"]["redundant"] == 0
