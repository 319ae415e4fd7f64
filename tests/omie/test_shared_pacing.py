"""Processes calling Omie with one app key share its budgets through the pacing ledger.

Measured before the ledger: two processes of one key got 206 rate-limit refusals where one got 0.
Each case runs real OS processes against a simulator that enforces the same limits: zero refusals
means the processes together stayed within them. Redis comes from OMIE_PIPELINE_TEST_REDIS_URL
(default 127.0.0.1:6379/15); when unreachable the Redis cases are skipped, except under CI.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis

from omie_pipeline.omie import OmieClient, errors
from omie_pipeline.omie.ledger import ledger_for
from omie_pipeline.omie.ledger_contract import Reservation
from support.simulated_omie import client_for, paced_limits

WORKER = Path(__file__).resolve().parents[1] / "support" / "pacing_worker.py"
REDIS_URL = os.environ.get("OMIE_PIPELINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(params=["sqlite", "redis"])
def pacing_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A ledger URL every process can reach: the embedded SQLite file, or Redis."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'pacing.sqlite'}"
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        reason = f"Redis at {REDIS_URL} unreachable: {error.__class__.__name__}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return REDIS_URL


def _env() -> dict[str, str]:
    root = Path(__file__).resolve().parents[2]
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(root / "tests")])}


def _consult_in_processes(sim, pacing_url: str, groups: list[list[int]], per_method: int, per_ip: int) -> list[int]:
    start = time.time() + 2.0  # every process has imported and connected by then
    config = sim.config
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), "consult", sim.base_url, config.app_key, config.app_secret, pacing_url]
            + [str(per_method), str(per_ip), str(config.window_seconds), str(start)]
            + [str(client_id) for client_id in ids],
            stdout=subprocess.PIPE,
            env=_env(),
            text=True,
        )
        for ids in groups
    ]
    failed = []
    for worker in workers:
        out, _ = worker.communicate(timeout=120)
        assert worker.returncode == 0
        failed.append(json.loads(out.strip().splitlines()[-1])["failed"])
    return failed


def test_two_processes_of_one_key_share_its_method_budget(make_sim, pacing_url: str) -> None:
    sim = make_sim(per_method_limit=6, per_ip_limit=100, window_seconds=1.0, redundant_seconds=0.5)
    ids = sorted(sim.state.clients)[:24]

    failed = _consult_in_processes(sim, pacing_url, [ids[:12], ids[12:]], per_method=6, per_ip=100)

    stats = sim.stats()
    assert failed == [0, 0]
    assert stats["calls"]["ConsultarCliente"] == 24
    assert sum(stats["rejected"].values()) == 0  # the simulator refuses a 7th call in any second


def test_two_processes_share_the_hosts_budget(make_sim, pacing_url: str) -> None:
    sim = make_sim(per_method_limit=100, per_ip_limit=6, window_seconds=1.0, redundant_seconds=0.5)
    ids = sorted(sim.state.clients)[:20]

    failed = _consult_in_processes(sim, pacing_url, [ids[:10], ids[10:]], per_method=100, per_ip=6)

    assert failed == [0, 0]
    assert sum(sim.stats()["rejected"].values()) == 0


def test_every_app_key_of_the_host_draws_on_one_per_ip_budget(make_sim) -> None:
    """Omie counts per IP whatever the key; the simulator counts a call of any key before checking it."""
    sim = make_sim(per_method_limit=100, per_ip_limit=8, window_seconds=1.0, misuse_error_threshold=100)
    known = client_for(sim)
    other = OmieClient(
        sim.base_url,
        "another-app-key",
        sim.config.app_secret,
        limits=paced_limits(sim),
        fault_streak_limit=None,
        max_retries=0,
    )
    ids = sorted(sim.state.clients)[:10]

    def other_key_call(n: int) -> None:
        with pytest.raises(errors.AuthenticationError):  # the simulator knows one key only
            other.list_clients(page_size=40 + n).__next__()

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(known.get_client, codigo_cliente_omie=cid) for cid in ids]
        futures += [pool.submit(other_key_call, n) for n in range(6)]
        for future in futures:
            future.result()

    assert sum(sim.stats()["rejected"].values()) == 0
    assert sim.stats()["total_calls"] == 16
    assert time.monotonic() - started >= 1.0  # 16 calls at 8 per second for the host: a second window


def test_a_place_held_by_a_killed_process_frees_at_its_deadline(pacing_url: str) -> None:
    window = f"omie-pacing:test:{uuid.uuid4().hex}"
    started = time.time()  # the holder takes its place (deadline: then + 2 s) after this moment
    holder = subprocess.Popen(
        [sys.executable, str(WORKER), "hold", pacing_url, window, "2.0"], stdout=subprocess.PIPE, env=_env(), text=True
    )
    assert holder.stdout.readline().strip() == "held"
    held_at = time.time()
    holder.send_signal(signal.SIGKILL)
    holder.wait()

    def claim() -> Reservation:
        return Reservation(
            token=uuid.uuid4().hex,
            method_window=window,
            method_limit=100,
            in_flight_cap=1,
            ip_window=window + ":ip",
            ip_limit=100,
            window_seconds=1.0,
            deadline=time.time() + 5.0,
        )

    ledger = ledger_for(pacing_url)
    assert ledger.reserve(claim()) is not None  # the dead process's place still counts
    while ledger.reserve(claim()) is not None:
        assert time.time() - held_at < 5.0, "the place was never freed"
        time.sleep(0.05)
    assert time.time() - started >= 1.95  # freed at the deadline, not before


def test_a_read_another_process_just_sent_waits_out_the_interval_instead_of_a_refusal(
    make_sim, monkeypatch, pacing_url: str
) -> None:
    from omie_pipeline.omie import account as in_process

    sim = make_sim(redundant_seconds=1.0)
    known = sorted(sim.state.clients)[0]
    first = client_for(sim, pacing_url=pacing_url, max_retries=0)
    first.get_client(codigo_cliente_omie=known)
    monkeypatch.setattr(in_process, "_accounts", {})  # a new process: no answers kept in memory
    second = client_for(sim, pacing_url=pacing_url, max_retries=0)

    started = time.monotonic()
    second.get_client(codigo_cliente_omie=known)

    assert time.monotonic() - started >= 0.9
    assert sim.stats()["calls"]["ConsultarCliente"] == 2
    assert sum(sim.stats()["rejected"].values()) == 0
