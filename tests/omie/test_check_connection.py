"""`omie-pipeline check-connection` against the simulator: the company, or the cause in plain words."""

from __future__ import annotations

import socket

import pytest
from click.testing import CliRunner

from omie_pipeline.cli import main
from omie_pipeline.omie import errors
from support.simulated_omie import client_for

from .conftest import APP_SECRET


def _run(
    base_url: str, app_key: str | None = "1234567890", app_secret: str | None = APP_SECRET, regime: str | None = None
):
    env = {
        "OMIE_BASE_URL": base_url,
        "OMIE_APP_KEY": app_key,
        "OMIE_APP_SECRET": app_secret,
        "OMIE_PIPELINE_TAX_REGIME": regime,
    }
    return CliRunner().invoke(main, ["check-connection"], env=env)


def test_prints_the_company_with_omies_raw_regime_values_next_to_the_confirmed_reading(sim):
    with sim.state.lock:
        sim.state.company.update(regapu="2")
    result = _run(sim.base_url, regime="lucro_presumido")

    assert result.exit_code == 0, result.output
    company = sim.state.company
    assert company["razao_social"] in result.output
    assert company["cnpj"] in result.output
    assert (
        f"Omie says:     regime_tributario '{company['regime_tributario']}', regapu '2', optante_simples_nacional 'N'"
    ) in result.output
    assert "Tax regime:    Lucro Presumido (confirmed by OMIE_PIPELINE_TAX_REGIME)" in result.output
    assert "Issues NFS-e:  yes" in result.output
    assert result.stderr == ""
    assert APP_SECRET not in result.output


def test_an_undocumented_regime_code_is_a_warning_and_never_read_as_a_regime(sim):
    result = _run(sim.base_url)

    assert result.exit_code == 0, result.output
    assert "Tax regime:    unknown: tax rates will not be derived until it is confirmed" in result.output
    assert "Warning: company" in result.stderr
    assert "Omie does not document its codes" in result.stderr
    assert "OMIE_PIPELINE_TAX_REGIME=" in result.stderr


def test_wrong_keys_are_named_as_such(sim):
    result = _run(sim.base_url, app_secret="wrong-secret")

    assert result.exit_code == 3
    assert "wrong keys" in result.output
    assert "wrong-secret" not in result.output


def test_missing_credentials_name_the_variable(sim):
    result = _run(sim.base_url, app_key=None)

    assert result.exit_code == 2
    assert "OMIE_APP_KEY" in result.output


def test_blocked_key_says_until_when(make_sim):
    sim = make_sim(misuse_error_threshold=2, misuse_block_seconds=600.0)
    caller = client_for(sim, max_retries=0, fault_streak_limit=None)
    for missing in (1, 2):
        with pytest.raises(errors.NotFoundError):
            caller.get_client(codigo_cliente_omie=missing)

    result = _run(sim.base_url)

    assert result.exit_code == 4
    assert "blocked" in result.output and "until" in result.output and "São Paulo time" in result.output


def test_unreachable_omie_is_reported(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    result = _run(f"http://127.0.0.1:{port}/api/v1/")

    assert result.exit_code == 5
    assert "unreachable" in result.output
