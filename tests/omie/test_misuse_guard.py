"""A method that keeps failing is paused by the client before Omie blocks the whole app key."""

from __future__ import annotations

import pytest

from omie_pipeline.omie import errors
from support.simulated_omie import client_for


def test_streak_of_faults_pauses_the_method_before_omies_block(make_sim):
    sim = make_sim(misuse_error_threshold=5, misuse_block_seconds=30.0)
    client = client_for(sim, fault_streak_limit=4, fault_pause_seconds=30.0)

    outcomes = []
    for n in range(8):  # a batch of bad records: every one is refused
        with pytest.raises(errors.OmieError) as failure:
            client.include_client(
                {"codigo_cliente_integracao": f"bad-{n}", "razao_social": f"Bad {n}", "cnpj_cpf": "123"}
            )
        outcomes.append(type(failure.value))

    assert outcomes == [errors.ValidationError] * 4 + [errors.MisuseRiskError] * 4
    stats = sim.stats()
    assert stats["calls"]["IncluirCliente"] == 4
    assert stats["misuse_blocks_started"] == 0
    # Other methods still work: the key was never blocked.
    assert list(client.list_companies())


def test_a_success_resets_the_streak(make_sim):
    sim = make_sim(misuse_error_threshold=5)
    client = client_for(sim, fault_streak_limit=3)
    good = iter(range(100))

    for _ in range(3):
        for _ in range(2):
            with pytest.raises(errors.ValidationError):
                client.include_client(
                    {"codigo_cliente_integracao": f"bad-{next(good)}", "razao_social": "X", "cnpj_cpf": "123"}
                )
        client.include_client({"codigo_cliente_integracao": f"ok-{next(good)}", "razao_social": "Good"})

    assert sim.stats()["misuse_blocks_started"] == 0
    assert client.metrics()["IncluirCliente"]["faults"] == {"validation": 6}
