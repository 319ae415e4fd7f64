"""The misuse guard counts faults where every process of the app key sees them: the state store.

Omie blocks an app key after about ten consecutive faults of one method, whoever sends them. Two
processes each counting their own five faults would let Omie see ten and block the key for 30
minutes; counting in the store, the second process pauses the method at the guard's limit.
A new process is stood for by an empty registry of in-process account state (what a fresh
interpreter has).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from invoices.conftest import prepare_account

from omie_pipeline.domain.timeutil import to_sao_paulo
from omie_pipeline.omie import account as in_process
from omie_pipeline.omie import errors
from omie_pipeline.runner.summary import summarise
from omie_pipeline.store import Store
from omie_pipeline.store.fault_streaks import StoredFaultStreaks
from omie_pipeline.store.tables import omie_fault_streaks
from omie_pipeline.sync.invoices import Outcome
from support.simulated_omie import client_for

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.reliability


@pytest.fixture
def simulator_settings() -> dict[str, Any]:
    return {"redundant_seconds": 0.2, "misuse_error_threshold": 10, "misuse_block_seconds": 60.0}


def process(monkeypatch: pytest.MonkeyPatch, sim, store: Store):
    """A client as a new process of the key builds it: no in-process state, streaks in the store."""
    monkeypatch.setattr(in_process, "_accounts", {})
    return client_for(
        sim, fault_streak_limit=8, fault_pause_seconds=60.0, fault_ledger=StoredFaultStreaks(store, sim.config.app_key)
    )


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


def pause_in_store(store: Store, app_key: str, method: str, minutes: int = 30) -> datetime:
    """Another process's guard paused `method` of the key: the pause it wrote in the store."""
    until = datetime.now(UTC) + timedelta(minutes=minutes)
    with store.begin() as connection:
        connection.execute(
            sa.insert(omie_fault_streaks).values(
                app_key=app_key, method=method, streak=0, paused_until=until, updated_at=until
            )
        )
    return until


def test_deals_left_waiting_by_a_pause_another_process_set_are_counted_with_until_when(store: Store, sim) -> None:
    until = pause_in_store(store, sim.config.app_key, "IncluirOS")
    account = prepare_account(store, sim)
    client = client_for(sim, fault_ledger=StoredFaultStreaks(store, sim.config.app_key))
    deal_ids = account.add_deals(3)

    issued = account.issue(client)

    assert issued.count(Outcome.WAITING) == 3 and "IncluirOS" not in sim.stats()["calls"]
    summary = summarise(store, account.name)
    assert summary.waiting_deals == 3 and {o.deal_id for o in summary.outcomes if o.outcome == "waiting"} == set(
        deal_ids
    )
    assert abs((summary.waiting.until - until).total_seconds()) < 60
    assert f"paused until {to_sao_paulo(summary.waiting.until):%H:%M} (São Paulo)" in summary.outcomes[0].reason
    client.close()


def test_sync_exits_3_and_says_how_many_deals_wait_and_until_when(sim, tmp_path) -> None:
    db_url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    store = Store(db_url)
    until = pause_in_store(store, sim.config.app_key, "IncluirOS")
    store.dispose()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OMIE_", "SALESOS_", "DAGSTER_"))}
    env.update(
        DAGSTER_HOME=str(tmp_path / "home"),
        OMIE_BASE_URL=sim.base_url,
        OMIE_APP_KEY=sim.config.app_key,
        OMIE_APP_SECRET=sim.config.app_secret,
        OMIE_REDUNDANT_SECONDS="1",
        OMIE_PIPELINE_ACCOUNT="acme",
        OMIE_PIPELINE_DB_URL=db_url,
        SALESOS_DEALS_URL=str(REPO / "omie_pipeline" / "sample_data" / "deals.csv"),
        OMIE_PIPELINE_SERVICE_MAP=str(REPO / "config" / "service_map.yaml"),
        OMIE_PIPELINE_REPORTS_DIR=str(tmp_path / "reports"),
        OMIE_PIPELINE_TAX_REGIME="lucro_presumido",
        OMIE_PIPELINE_LANGUAGE="en",  # the wording below is the English source text
    )
    cli = str(Path(sys.executable).with_name("omie-pipeline"))

    result = subprocess.run(
        [cli, "sync", "--settle-timeout", "5"], cwd=REPO, env=env, capture_output=True, text=True, timeout=240
    )

    assert result.returncode == 3, result.stdout[-2000:] + result.stderr[-2000:]
    line = next(line for line in result.stdout.splitlines() if "deals waiting" in line)
    assert re.search(r"\b\d+ deals waiting, nothing sent for them: IncluirOS paused", line), line
    assert f"paused until {to_sao_paulo(until):%H:%M} (São Paulo)" in line
    assert sim.config.app_secret not in result.stdout + result.stderr
