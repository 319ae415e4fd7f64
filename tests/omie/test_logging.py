"""Everything logged during a session of calls, at DEBUG from every logger, holds no secret."""

from __future__ import annotations

import logging

import pytest

from omie_pipeline.omie import errors
from support.simulated_omie import client_for

from .conftest import APP_SECRET, billable_client, first_service_id, os_param

CPF = "529.982.247-25"


def test_no_secret_and_no_cpf_in_any_log_line(make_sim, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    # An earlier test in this worker may have quietened urllib3 (a level set on its logger, or logging
    # configured with disable_existing_loggers): its own lines must be seen here to be checked.
    caplog.set_level(logging.DEBUG, logger="urllib3")
    monkeypatch.setattr(logging.getLogger("urllib3.connectionpool"), "disabled", False)
    sim = make_sim(misuse_error_threshold=50)
    client = client_for(sim, max_retries=2)
    raised: list[str] = []

    list(client.list_clients(page_size=20))
    client.include_client(
        {
            "codigo_cliente_integracao": "pf-1",
            "razao_social": "Maria Souza",
            "cnpj_cpf": CPF,
            "email": "maria.souza@example.com",
            "telefone1_numero": "98765-4321",
        }
    )
    client.find_client_by_document(CPF)
    sim.set_faults(http_500_next=1, html_error_next=1)
    client.get_company(sim.state.company["codigo_empresa"])
    for failing in (
        lambda: client.get_client(codigo_cliente_integracao="nobody"),
        lambda: client.include_client({"codigo_cliente_integracao": "pf-1", "razao_social": "Again"}),
    ):
        with pytest.raises(errors.OmieError) as failure:
            failing()
        raised.append(f"{failure.value} {vars(failure.value)}")
    sim.set_faults(lose_response_next=1, methods=["IncluirOS"])
    with pytest.raises(errors.OutcomeUnknownError) as lost:
        client.include_os(os_param("deal-log", billable_client(sim)["codigo_cliente_omie"], first_service_id(sim)))
    raised.append(f"{lost.value} {vars(lost.value)}")

    lines = [record.getMessage() for record in caplog.records] + [caplog.text]
    assert any("ListarClientes param=" in line for line in lines)  # requests really were logged
    assert any("retry" in line for line in lines)
    assert any(record.name.startswith("urllib3") for record in caplog.records)
    for line in lines + raised:
        assert APP_SECRET not in line
        assert CPF not in line and CPF.replace(".", "").replace("-", "") not in line
        assert "maria.souza@" not in line and "98765-4321" not in line


def test_a_lost_client_write_names_its_integration_code_without_the_cpf(make_sim, caplog):
    """A person's integration code holds the CPF; the warning and the error text mask it."""
    caplog.set_level(logging.DEBUG)
    sim = make_sim()
    client = client_for(sim)
    code = "OP-MAIN-" + CPF.replace(".", "").replace("-", "")
    sim.set_faults(lose_response_next=1, methods=["IncluirCliente"])
    with pytest.raises(errors.OutcomeUnknownError) as lost:
        client.include_client(
            {
                "codigo_cliente_integracao": code,
                "razao_social": "Maria Souza",
                "cnpj_cpf": CPF,
                "email": "maria.souza@example.com",
            }
        )
    assert lost.value.integration_code == code  # the caller still gets the key to look it up
    assert "OP-MAIN-***.982.247-**" in str(lost.value)
    for line in [record.getMessage() for record in caplog.records] + [caplog.text, str(lost.value)]:
        assert CPF.replace(".", "").replace("-", "") not in line
