"""Omie's throttling answers are waits, whatever their wording; only the misuse texts block the key
and only the key faults are bad credentials (omie-api.md §2, §15)."""

from __future__ import annotations

import time

import pytest

from omie_pipeline.omie import OmieConnection, errors
from omie_pipeline.omie.deadline import run_deadline
from omie_pipeline.omie.faults import fault_error
from support.simulated_omie import client_for

from .conftest import billable_client, first_service_id, os_param

BURST = "ERROR: Requisição recusada por consumo indevido. Tente novamente em alguns instantes."


@pytest.mark.parametrize(
    "text, code, http_status, refusal",
    [
        ("Conta bloqueada para faturamento", "", 200, "1"),
        ("ERROR: Conta bloqueada para faturamento.", "SOAP-ENV:Client-104", 500, None),
    ],
)
def test_a_record_refusal_that_says_bloqueada_is_not_a_block(text, code, http_status, refusal):
    error = fault_error(text, code, http_status=http_status, refusal_status=refusal)
    assert type(error) is errors.RefusedError


@pytest.mark.parametrize(
    "text, code, http_status",
    [
        ("ERROR: API bloqueada por consumo indevido. Tente novamente em 30 segundos.", "MISUSE_API_PROCESS", 425),
        ("ERROR: API bloqueada por consumo indevido. Tente novamente em 30 segundos.", "", 500),
        ("", "", 425),
    ],
)
def test_only_the_misuse_texts_block_the_key(text, code, http_status):
    error = fault_error(text, code, http_status=http_status)
    assert isinstance(error, errors.BlockedError)


@pytest.mark.parametrize(
    "text, refusal, retry_after",
    [
        (BURST, None, None),
        ("ERROR: Aguarde 4 segundos para efetuar a requisição.", None, 5.0),
        ("ERROR: Tente novamente em 4 segundos.", None, 5.0),
        ("ERROR: Aguarde 4 segundos para efetuar a requisição.", "1", 5.0),
    ],
)
def test_throttling_texts_are_waits_of_n_plus_one_seconds(text, refusal, retry_after):
    for http_status in (500, 200):
        error = fault_error(text, "SOAP-ENV:Client-500", http_status=http_status, refusal_status=refusal)
        assert isinstance(error, errors.ThrottledError), (text, http_status)
        assert error.retry_after == retry_after


def test_only_the_key_faults_are_bad_credentials():
    key = fault_error("A chave de acesso não está preenchida ou não é válida.", "SOAP-ENV:Server", http_status=500)
    secret = fault_error(
        "O app_secret informado não está preenchido ou não é válido.", "SOAP-ENV:Server", http_status=500
    )
    assert isinstance(key, errors.AuthenticationError) and isinstance(secret, errors.AuthenticationError)
    assert not isinstance(fault_error(BURST, "SOAP-ENV:Client-500", http_status=403), errors.AuthenticationError)


@pytest.mark.parametrize(
    "entry, least_wait",
    [
        ({"kind": "burst"}, 0.0),
        ({"kind": "wait_to_request", "seconds": 1}, 2.0),
        ({"kind": "try_again_in", "seconds": 1}, 2.0),
        ({"kind": "wait_to_request", "seconds": 1, "delivery": "in_200"}, 2.0),
        ({"kind": "try_again_in", "seconds": 1, "delivery": "refusal"}, 2.0),
        ({"kind": "gateway_403"}, 0.0),
    ],
)
def test_each_throttling_answer_to_a_read_is_waited_out_then_retried(sim, entry, least_wait):
    client = client_for(sim, max_retries=2)
    sim.set_faults(schedule=[{**entry, "method": "ConsultarEmpresa"}])

    company = client.get_company(sim.state.company["codigo_empresa"])

    assert company.cnpj == sim.state.company["cnpj"]
    counts = client.metrics()["ConsultarEmpresa"]
    assert counts["retries"] == 1 and counts["retry_wait_seconds"] >= least_wait


@pytest.mark.parametrize(
    "entry",
    [
        {"kind": "wait_to_request", "seconds": 1},
        {"kind": "try_again_in", "seconds": 1, "delivery": "refusal"},
        {"kind": "gateway_403"},
        {"kind": "concurrency"},
    ],
)
def test_a_write_refused_for_pace_was_not_applied_and_is_sent_again(sim, entry):
    client = client_for(sim, concurrency_waits=(0.2, 0.4))
    sim.set_faults(schedule=[{**entry, "method": "IncluirCliente"}])
    param = {
        "codigo_cliente_integracao": "THR-1",
        "razao_social": "Cliente THR Ltda",
        "nome_fantasia": "THR",
        "cnpj_cpf": "11.222.333/0001-81",
        "email": "thr@example.com.br",
    }

    status = client.include_client(param)

    assert status.codigo_cliente_omie
    assert sim.stats()["calls"]["IncluirCliente"] == 2
    with sim.state.lock:
        assert [c for c in sim.state.clients.values() if c.get("codigo_cliente_integracao") == "THR-1"]


def test_a_burst_refusal_of_a_write_is_looked_up_before_anything_is_resent(sim):
    client = client_for(sim)
    sim.set_faults(schedule=[{"kind": "burst", "method": "IncluirOS"}])
    param = os_param("THR-OS-1", billable_client(sim)["codigo_cliente_omie"], first_service_id(sim))

    with pytest.raises(errors.OutcomeUnknownError) as raised:
        client.include_os(param)

    assert raised.value.integration_code == "THR-OS-1" and raised.value.answered
    assert sim.stats()["calls"]["IncluirOS"] == 1, "not resent blindly"
    assert sim.state.order_by_code("THR-OS-1") is None


def test_concurrency_refusals_wait_ten_then_sixty_one_seconds_by_default(sim):
    connection = OmieConnection(sim.base_url, sim.config.app_key, sim.config.app_secret)
    assert connection.concurrency_waits == (10.0, 61.0)
    client = client_for(sim, concurrency_waits=(0.3, 0.6), max_retries=3)
    sim.set_faults(schedule=[{"kind": "concurrency", "method": "ConsultarEmpresa", "count": 2}])

    client.get_company(sim.state.company["codigo_empresa"])

    counts = client.metrics()["ConsultarEmpresa"]
    assert counts["retries"] == 2 and counts["retry_wait_seconds"] >= 0.9, "not sub-second backoff"


def test_a_wait_that_would_pass_the_run_deadline_is_not_sat_through(sim):
    client = client_for(sim, max_wait=30.0)
    sim.set_faults(schedule=[{"kind": "wait_to_request", "seconds": 5, "method": "ConsultarEmpresa"}])
    started = time.monotonic()

    with run_deadline(1.0), pytest.raises(errors.ThrottledError) as raised:
        client.get_company(sim.state.company["codigo_empresa"])

    assert time.monotonic() - started < 1.0
    assert raised.value.retry_after == 6.0 and raised.value.past_deadline


def test_throttling_answers_do_not_build_up_the_fault_streak(sim):
    client = client_for(sim, fault_streak_limit=2, max_retries=4)
    sim.set_faults(schedule=[{"kind": "burst", "method": "ConsultarEmpresa", "count": 3}])

    client.get_company(sim.state.company["codigo_empresa"])  # no MisuseRiskError: 3 throttles, then an answer

    assert client.metrics()["ConsultarEmpresa"]["faults"] == {"throttled": 3}
