"""Reads are retried within limits; writes are sent again only when Omie certainly never took them."""

from __future__ import annotations

import socket

import pytest

from omie_pipeline.omie import OmieClient, OmieLimits, errors
from support.simulated_omie import client_for

from .conftest import billable_client, first_service_id, os_param


def test_read_is_retried_through_platform_failures(sim):
    client = client_for(sim, max_retries=3)
    sim.set_faults(http_500_next=1, html_error_next=1)

    company = client.get_company(sim.state.company["codigo_empresa"])

    assert company.cnpj == sim.state.company["cnpj"]
    assert sim.stats()["calls"]["ConsultarEmpresa"] == 3
    counts = client.metrics()["ConsultarEmpresa"]
    assert counts["retries"] == 2
    assert counts["faults"] == {"transient": 2}


def test_read_retries_stop_at_the_limit(sim):
    client = client_for(sim, max_retries=2)
    sim.set_faults(http_500_next=10)

    with pytest.raises(errors.TransientError):
        client.get_company(sim.state.company["codigo_empresa"])

    assert sim.stats()["calls"]["ConsultarEmpresa"] == 3  # the call and two retries, no more


def test_read_timeout_is_retried_and_omies_redundancy_wait_honoured(sim):
    client = client_for(sim, timeout=(1.0, 0.3), max_retries=3)
    sim.set_faults(slow_next=1, slow_seconds=0.8, methods=["ConsultarEmpresa"])

    company = client.get_company(sim.state.company["codigo_empresa"])

    assert company.codigo_empresa == sim.state.company["codigo_empresa"]
    counts = client.metrics()["ConsultarEmpresa"]
    assert counts["retries"] >= 1
    # The timed-out call reached Omie, so the first resend was refused as redundant and the
    # client waited the time Omie stated before the next one.
    assert counts["retry_wait_seconds"] >= 1.0


def test_rate_limit_answers_are_retried_until_every_read_succeeds(make_sim):
    sim = make_sim(per_method_limit=4)
    client = client_for(sim, limits=OmieLimits(window_seconds=1.0, per_method=50), max_retries=8)
    ids = sorted(sim.state.clients)[:8]

    names = [client.get_client(codigo_cliente_omie=cid).codigo_cliente_omie for cid in ids]

    assert names == ids
    assert sim.stats()["rejected"]["429"] >= 1
    assert client.metrics()["ConsultarCliente"]["retries"] == sim.stats()["rejected"]["429"]


def test_business_faults_are_never_retried(sim):
    client = client_for(sim, max_retries=5)

    with pytest.raises(errors.NotFoundError):
        client.get_client(codigo_cliente_omie=1)

    assert sim.stats()["calls"]["ConsultarCliente"] == 1
    assert client.metrics()["ConsultarCliente"]["retries"] == 0


def test_write_is_not_resent_after_a_server_error(sim):
    client = client_for(sim, max_retries=5)
    sim.set_faults(http_500_next=1, methods=["IncluirOS"])

    with pytest.raises(errors.OutcomeUnknownError) as failure:
        client.include_os(os_param("deal-500", billable_client(sim)["codigo_cliente_omie"], first_service_id(sim)))

    assert failure.value.integration_code == "deal-500"
    assert sim.stats()["calls"]["IncluirOS"] == 1


def test_write_is_not_resent_after_a_timeout(sim):
    client = client_for(sim, timeout=(1.0, 0.3), max_retries=5)
    sim.set_faults(slow_next=1, slow_seconds=0.8, methods=["IncluirOS"])

    with pytest.raises(errors.OutcomeUnknownError):
        client.include_os(os_param("deal-slow", billable_client(sim)["codigo_cliente_omie"], first_service_id(sim)))

    assert sim.stats()["calls"]["IncluirOS"] == 1


def test_write_refused_by_the_rate_limit_is_sent_again_and_applied_once(make_sim):
    sim = make_sim(per_method_limit=2)
    client = client_for(sim, limits=OmieLimits(window_seconds=1.0, per_method=50), max_retries=8)

    statuses = [
        client.include_client({"codigo_cliente_integracao": f"rl-{n}", "razao_social": f"Cliente {n}"})
        for n in range(4)
    ]

    assert [s.codigo_cliente_integracao for s in statuses] == ["rl-0", "rl-1", "rl-2", "rl-3"]
    assert sim.stats()["rejected"]["429"] >= 1
    created = [r for r in sim.state.clients.values() if str(r.get("codigo_cliente_integracao", "")).startswith("rl-")]
    assert len(created) == 4


def test_write_that_never_left_is_retried_and_not_outcome_unknown():
    with socket.socket() as probe:  # a port with nobody listening: the connection is refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = OmieClient(f"http://127.0.0.1:{port}/api/v1/", "1", "secret", max_retries=2, backoff_base=0.01)

    with pytest.raises(errors.TransientError) as failure:
        client.include_os({"Cabecalho": {"cCodIntOS": "x"}})

    assert failure.value.reached_omie is False
    assert client.metrics()["IncluirOS"]["calls"] == 3
