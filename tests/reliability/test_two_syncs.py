"""Two `omie-pipeline sync` processes at once: on one Dagster home with its SQLite store, and from
two Dagster homes on one PostgreSQL store. Both finish, and every deal is issued exactly once."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest

from omie_pipeline.store import Store
from omie_pipeline.sync.invoices import IssueSettings, issue_invoices
from support.simulated_omie import client_for

from .pipeline import settle
from .processes import generated_deals_csv, start_sync, sync_env
from .test_kill9 import ACCOUNT, assert_matches_omie

SIM = {
    "seed": 9,
    "clients": 20,
    "nfse_delay": (0.2, 1.0),
    "redundant_seconds": 1.0,
    "window_seconds": 60.0,
    "per_method_limit": 240,
    "per_ip_limit": 960,
}


def run_two(sim, tmp_path: Path, db_url: str, homes: tuple[Path, Path]) -> None:
    deals_csv = generated_deals_csv(tmp_path / "deals.csv", 30, 11)
    logs = [tmp_path / f"sync-{n}.log" for n in range(2)]
    processes = [
        start_sync(sync_env(sim, home, db_url, deals_csv, tmp_path / f"reports-{n}"), log)
        for n, (home, log) in enumerate(zip(homes, logs, strict=False))
    ]
    codes = [process.wait(timeout=240) for process in processes]
    assert codes == [0, 0], "\n----\n".join(log.read_text(errors="replace")[-2500:] for log in logs)
    store = Store(db_url)
    client = client_for(sim)
    try:
        # A run may leave intents the other one claimed; both finished, so nothing is still held.
        issue_invoices(client, store, ACCOUNT, settings=IssueSettings(redundant_interval=timedelta(seconds=1)))
        time.sleep(1.0)
        assert settle(client, store, ACCOUNT, timeout=30)
        assert_matches_omie(sim, store)
        with sim.state.lock:
            assert len(sim.state.orders) >= 20
    finally:
        client.close()
        store.dispose()
    assert sim.stats()["misuse_blocks_started"] == 0


@pytest.mark.reliability
def test_two_syncs_on_one_sqlite_home(make_sim, tmp_path: Path) -> None:
    home = tmp_path / "home"
    run_two(make_sim(**SIM), tmp_path, f"sqlite:///{tmp_path / 'store.sqlite'}", (home, home))


@pytest.mark.reliability
def test_two_homes_on_one_postgresql_store(make_sim, tmp_path: Path, fresh_postgres_url: str) -> None:
    run_two(make_sim(**SIM), tmp_path, fresh_postgres_url, (tmp_path / "home-a", tmp_path / "home-b"))
