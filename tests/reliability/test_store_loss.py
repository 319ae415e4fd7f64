"""A lost or restored state store while Omie keeps every OS: the next sync adopts, never re-creates.

Omie holds the OS of every deal; the store that knew their ids is gone (a new empty store) or
was restored from an older backup. The deals come back from the CRM, and the sync must find
their OS in Omie (a few `ListarOS` look-ups by key) instead of sending `IncluirOS` for each and
collecting Omie's "already registered" faults, which count towards the key's misuse block.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from deals.conftest import deal_row, write_csv
from invoices.conftest import FAST, Account, calls, calls_since, prepare_account

from omie_pipeline.domain.documents import cnpj_check_digits
from omie_pipeline.runner.summary import summarise
from omie_pipeline.sources import CsvDealSource
from omie_pipeline.store import Store
from omie_pipeline.store.tables import metadata
from omie_pipeline.sync.client_index import refresh_client_index
from omie_pipeline.sync.clients import link_clients
from omie_pipeline.sync.deals import pull_deals
from omie_pipeline.sync.invoices import Outcome
from support.simulated_omie import client_for

pytestmark = pytest.mark.reliability

REPO = Path(__file__).resolve().parents[2]

DEALS = 200


@pytest.fixture
def simulator_settings() -> dict[str, Any]:
    return {**FAST, "per_method_limit": 120, "per_ip_limit": 600}


def lose(store: Store) -> None:
    """Every row of the store gone, as in a new, empty store."""
    with store.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(sa.delete(table))


def faults(sim, method: str) -> int:
    return sim.stats()["errors"].get(method, 0)


def test_after_a_lost_store_a_sync_adopts_every_os_omie_holds_without_one_incluiros_fault(store: Store, sim) -> None:
    first = prepare_account(store, sim)
    deal_ids = first.add_deals(DEALS)
    created = first.issue(workers=4)
    assert created.count(Outcome.SUBMITTED) == DEALS, created.counts
    first.client.close()

    lose(store)
    second = prepare_account(store, sim)
    assert second.add_deals(DEALS) == deal_ids  # the CRM hands the same deals back
    before = calls(sim)
    summary = second.issue(workers=4)

    assert summary.count(Outcome.ADOPTED) == DEALS, summary.counts
    assert not summary.paused
    made = calls_since(sim, before)
    assert "IncluirOS" not in made and faults(sim, "IncluirOS") == 0, made
    assert made["ListarOS"] == -(-DEALS // 100), made  # one page of 100 keys per call, not a call per deal
    assert sim.stats()["misuse_blocks_started"] == 0
    second.assert_exactly_once(deal_ids)
    outcomes = summarise(store, second.name).outcomes
    assert {outcome.deal_id for outcome in outcomes} == set(deal_ids)
    assert all(outcome.outcome != "pending" for outcome in outcomes), [o for o in outcomes if o.outcome == "pending"][
        :3
    ]


def test_a_store_restored_from_an_older_backup_issues_nothing_twice(tmp_path, sim) -> None:
    path = tmp_path / "store.sqlite"
    store = Store(f"sqlite:///{path}")
    account = prepare_account(store, sim)
    early = account.add_deals(30)
    account.issue()
    store.dispose()
    shutil.copy(path, tmp_path / "backup.sqlite")  # the nightly backup

    store = Store(f"sqlite:///{path}")
    account = _reopened(account, store)
    late = account.add_deals(30)
    assert account.issue().count(Outcome.SUBMITTED) == 30
    orders = sum(len(held) for held in account.orders_by_key().values())
    store.dispose()

    shutil.copy(tmp_path / "backup.sqlite", path)  # the disk is lost; the backup comes back
    store = Store(f"sqlite:///{path}")
    account = _reopened(account, store)
    account.deal_ids = list(early)
    assert account.add_deals(30) == late  # the CRM pull brings the later deals back
    before = calls(sim)
    summary = account.issue()

    assert summary.count(Outcome.ADOPTED) == 30, summary.counts
    assert "IncluirOS" not in calls_since(sim, before)
    assert sum(len(held) for held in account.orders_by_key().values()) == orders
    account.assert_exactly_once(early + late)
    store.dispose()


def _reopened(account: Account, store: Store) -> Account:
    return Account(
        account.name,
        account.sim,
        store,
        account.client,
        account.service_code,
        account.billable_clients,
        list(account.deal_ids),
    )


def test_after_a_lost_store_clients_are_matched_from_omies_listing_not_registered_again(
    store: Store, sim, tmp_path
) -> None:
    documents = [_cnpj(index) for index in range(40)]
    rows = [deal_row(f"K{index:03d}", document=document) for index, document in enumerate(documents)]
    client = client_for(sim)

    def reconcile():
        pull_deals(CsvDealSource(write_csv(tmp_path / "deals.csv", rows)), store, "acme", full_refresh=True)
        refresh_client_index(client, store, "acme")
        return link_clients(client, store, "acme")

    assert reconcile().clients_created == 40
    lose(store)
    before = calls(sim)
    again = reconcile()

    assert dict(again.linked) == {"matched": 40} and again.clients_created == again.clients_adopted == 0
    assert "IncluirCliente" not in calls_since(sim, before) and faults(sim, "IncluirCliente") == 0
    client.close()


def _cnpj(index: int) -> str:
    first = f"{31000000 + index:08d}0001"
    return first + cnpj_check_digits(first)


def test_sync_after_losing_its_store_exits_0_with_every_deal_accounted_for(make_sim, tmp_path) -> None:
    sim = make_sim(seed=11, clients=20, nfse_delay=(0.2, 0.5), redundant_seconds=1.0)
    store_file = tmp_path / "store.sqlite"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OMIE_", "SALESOS_", "DAGSTER_"))}
    env.update(
        DAGSTER_HOME=str(tmp_path / "home"),
        OMIE_BASE_URL=sim.base_url,
        OMIE_APP_KEY=sim.config.app_key,
        OMIE_APP_SECRET=sim.config.app_secret,
        OMIE_REDUNDANT_SECONDS="1",
        OMIE_PIPELINE_ACCOUNT="acme",
        OMIE_PIPELINE_DB_URL=f"sqlite:///{store_file}",
        SALESOS_DEALS_URL=str(REPO / "omie_pipeline" / "sample_data" / "deals.csv"),
        OMIE_PIPELINE_SERVICE_MAP=str(REPO / "config" / "service_map.yaml"),
        OMIE_PIPELINE_REPORTS_DIR=str(tmp_path / "reports"),
        OMIE_PIPELINE_TAX_REGIME="lucro_presumido",
    )
    cli = str(Path(sys.executable).with_name("omie-pipeline"))

    def sync() -> dict:
        result = subprocess.run(
            [cli, "sync", "--json", "--settle-timeout", "30"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        return json.loads(result.stdout)

    first = sync()
    for path in tmp_path.glob("store.sqlite*"):  # the disk holding the store is lost
        path.unlink()
    orders = len(sim.state.orders)
    errors_before = dict(sim.stats()["errors"])

    second = sync()

    assert len(sim.state.orders) == orders and sim.stats()["errors"].get("IncluirOS", 0) == errors_before.get(
        "IncluirOS", 0
    )
    assert second["waiting"] is None
    assert {o["deal_id"] for o in second["deal_outcomes"]} == {o["deal_id"] for o in first["deal_outcomes"]}
    assert not [o for o in second["deal_outcomes"] if o["outcome"] in ("pending", "waiting")]
    assert sum(second["invoices"].values()) == sum(first["invoices"].values()) == orders > 0
