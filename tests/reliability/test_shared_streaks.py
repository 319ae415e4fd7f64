"""The misuse guard counts faults where every process of the app key sees them: the state store.

Omie blocks an app key after about ten consecutive faults of one method, whoever sends them. Two
processes each counting their own five faults would let Omie see ten and block the key for 30
minutes; counting in the store, the second process pauses the method at the guard's limit.
A new process is stood for by an empty registry of in-process account state (what a fresh
interpreter has).
"""

from __future__ import annotations

from typing import Any

import pytest

from omie_pipeline.omie import account as in_process, errors
from omie_pipeline.store import Store
from omie_pipeline.store.fault_streaks import StoredFaultStreaks

from support.simulated_omie import client_for

pytestmark = pytest.mark.reliability


@pytest.fixture
def simulator_settings() -> dict[str, Any]:
    return {"redundant_seconds": 0.2, "misuse_error_threshold": 10, "misuse_block_seconds": 60.0}


def process(monkeypatch: pytest.MonkeyPatch, sim, store: Store):
    """A client as a new process of the key builds it: no in-process state, streaks in the store."""
    monkeypatch.setattr(in_process, "_accounts", {})
    return client_for(sim, fault_streak_limit=8, fault_pause_seconds=60.0,
                      fault_ledger=StoredFaultStreaks(store, sim.config.app_key))


def not_found(client, keys: range) -> list[str]:
    """Look up clients that do not exist (each answer a business fault Omie counts); what each call met."""
    met = []
    for index in keys:
        try:
            client.get_client(codigo_cliente_integracao=f"MISSING{index:03d}")
        except errors.OmieError as failure:
            met.append(failure.kind)
    return met


def test_two_processes_share_one_fault_count_and_omie_never_blocks_the_key(monkeypatch, sim, store: Store) -> None:
    first = process(monkeypatch, sim, store)
    assert not_found(first, range(5)) == ["not_found"] * 5
    second = process(monkeypatch, sim, store)
    met = not_found(second, range(5, 10))

    assert met == ["not_found"] * 3 + ["misuse_risk"] * 2  # 5 + 3 = the guard's 8: paused before Omie's 10
    assert sim.stats()["errors"]["ConsultarCliente"] == 8
    assert sim.stats()["misuse_blocks_started"] == 0
    with pytest.raises(errors.MisuseRiskError):  # and the first process sees the pause too
        first.get_client(codigo_cliente_integracao="MISSING999")
    first.close()
    second.close()


def test_a_success_in_any_process_starts_the_count_again(monkeypatch, sim, store: Store) -> None:
    first = process(monkeypatch, sim, store)
    assert not_found(first, range(6)) == ["not_found"] * 6
    second = process(monkeypatch, sim, store)
    with sim.state.lock:
        known = next(iter(sim.state.clients))
    assert second.get_client(codigo_cliente_omie=known).codigo_cliente_omie == known
    assert not_found(first, range(6, 13)) == ["not_found"] * 7  # 0 + 7 < 8: the success reset the count
    assert sim.stats()["misuse_blocks_started"] == 0
    first.close()
    second.close()
