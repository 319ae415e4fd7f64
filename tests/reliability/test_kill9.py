"""`omie-pipeline sync` killed with SIGKILL at random moments (seeded), run again each time; once
a run completes and the claims of the killed runs are taken over, Omie holds exactly one client per
document, one OS per deal and at most one NFS-e per OS, and the store agrees with it."""

from __future__ import annotations

import random
import signal
import time
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from omie_pipeline.domain.documents import normalise_document
from omie_pipeline.runner.orphans import UNFINISHED
from omie_pipeline.runner.summary import summarise
from omie_pipeline.store import Store
from omie_pipeline.store.tables import deals, invoices
from omie_pipeline.sync.invoices import IssueSettings, issue_invoices
from support.simulated_omie import client_for

from .pipeline import settle
from .processes import generated_deals_csv, start_sync, sync_env

ACCOUNT = "acme"
CYCLES = 6
SEED = 20261204


WRITES = ("IncluirCliente", "IncluirOS", "ValidarOS", "FaturarOS")


def writes(sim) -> int:
    calls = sim.stats()["calls"]
    return sum(calls.get(method, 0) for method in WRITES)


def kill_after_writes(process, sim, target: int, timeout: float = 90.0) -> bool:
    """SIGKILL the sync once Omie has received `target` write calls (or it is still running after
    `timeout`); False when it ended by itself first."""
    deadline = time.monotonic() + timeout
    while process.poll() is None:
        if writes(sim) >= target or time.monotonic() > deadline:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            return True
        time.sleep(0.01)
    return False


@pytest.mark.reliability
def test_sync_killed_at_random_moments_settles_exactly_once(make_sim, tmp_path: Path) -> None:
    # Answers take 20-60 ms, so that a kill lands inside calls as well as between them. 60 deals: with
    # several emission writes in flight a run gets far between two looks at the count, and each cycle
    # must still find work left.
    sim = make_sim(
        seed=5,
        clients=20,
        nfse_delay=(0.2, 1.0),
        redundant_seconds=1.0,
        window_seconds=60.0,
        per_method_limit=240,
        per_ip_limit=960,
        misuse_block_seconds=5.0,
        latency=(0.02, 0.06),
    )
    db_url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    env = sync_env(
        sim, tmp_path / "home", db_url, generated_deals_csv(tmp_path / "deals.csv", 60, 7), tmp_path / "reports"
    )
    rng = random.Random(SEED)
    log = tmp_path / "sync.log"
    kills = []
    for _ in range(CYCLES):
        # The moment: after a random number of further write calls (client, OS, validation, invoicing).
        target = writes(sim) + rng.randint(1, 20)
        process = start_sync(env, log)
        killed = kill_after_writes(process, sim, target)
        kills.append((target, killed, dict(sim.stats()["calls"])))
    assert sum(1 for _, killed, _ in kills if killed) >= CYCLES - 1, kills
    for target, killed, calls in kills:  # shown with -s: where each kill landed
        print(
            f"kill after write call {target}: {'killed' if killed else 'ended by itself'}, "
            f"IncluirCliente {calls.get('IncluirCliente', 0)}, IncluirOS {calls.get('IncluirOS', 0)}, "
            f"ValidarOS {calls.get('ValidarOS', 0)}, FaturarOS {calls.get('FaturarOS', 0)}"
        )
    final = start_sync(env, log, settle_timeout=3)  # intents the killed runs hold stay pending: no long wait
    assert final.wait(timeout=180) == 0, log.read_text(encoding="utf-8", errors="replace")[-3000:]
    with dg.DagsterInstance.from_config(str(tmp_path / "home")) as instance:
        unfinished = instance.get_runs(filters=dg.RunsFilter(statuses=UNFINISHED))
        failed = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]))
    assert not unfinished, "runs of killed syncs left as if still running"
    assert failed  # the killed runs, marked failed by the sync after them

    # Intents the killed runs claimed and left before Omie recorded an OS wait for their lease
    # (15 minutes); the next scheduled run takes them over. Here, at once, through the same function.
    store = Store(db_url)
    client = client_for(sim)
    try:
        issue_invoices(
            client,
            store,
            ACCOUNT,
            settings=IssueSettings(claim_lease=timedelta(0), redundant_interval=timedelta(seconds=1)),
        )
        time.sleep(1.0)
        assert settle(client, store, ACCOUNT, timeout=30)
        assert_matches_omie(sim, store)
    finally:
        client.close()
        store.dispose()
    assert sim.stats()["misuse_blocks_started"] == 0


def assert_matches_omie(sim, store: Store) -> None:
    summary = summarise(store, ACCOUNT)
    assert not summary.pending_invoices
    with store.connect() as connection:
        stored = {
            row.idempotency_key: row
            for row in connection.execute(sa.select(invoices).where(invoices.c.account == ACCOUNT))
        }
        valid_documents = {
            row.document
            for row in connection.execute(
                sa.select(deals.c.document).where(deals.c.account == ACCOUNT, deals.c.is_valid.is_(True))
            )
        }
    with sim.state.lock:
        orders = list(sim.state.orders.values())
        nfses = list(sim.state.nfses.values())
        documents = [normalise_document(record.get("cnpj_cpf", "")) for record in sim.state.clients.values()]
    keys = [order.c_cod_int_os for order in orders]
    assert len(keys) == len(set(keys)), "two OS under one key"
    assert set(keys) == set(stored), "Omie and the store disagree on the OS"
    assert {row.omie_os_id for row in stored.values()} == {order.n_cod_os for order in orders}
    per_order: dict[int, int] = {}
    for note in nfses:
        per_order[note.n_cod_os] = per_order.get(note.n_cod_os, 0) + 1
    assert all(count == 1 for count in per_order.values()), per_order
    for document in valid_documents:
        assert documents.count(document) <= 1, f"document {document[:3]}... registered twice"
    for outcome in summary.outcomes:
        assert outcome.outcome in {"issued", "error", "issue"}, outcome
