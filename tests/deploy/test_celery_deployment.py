"""The production shape on one machine: a gRPC code server, the daemon with the queued run coordinator
on PostgreSQL, and two Celery workers (broker: Redis), each a separate process. Runs submitted to the
queue execute their steps on the workers, a second run of one account waits for the first, and a worker's
process killed mid-emission fails the run, which the run-retry policy starts again without a second OS."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import dagster as dg
import pytest
from reliability.processes import REPO, generated_deals_csv, sync_env

pytestmark = [pytest.mark.integration, pytest.mark.deployment]
BIN = Path(sys.executable).parent
ACCOUNT = "acme"
DEALS = 12
FINAL = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _redis_db_url() -> str:
    if shutil.which("redis-cli") is None or subprocess.run(["redis-cli", "ping"], capture_output=True).returncode:
        if os.environ.get("CI"):
            pytest.fail("Redis is not reachable on 127.0.0.1:6379")
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    return f"redis://127.0.0.1:6379/{10 + os.getpid() % 5}"


@pytest.fixture
def sim_options() -> dict:
    """Simulator settings; a test that needs slow calls overrides this by parametrizing it."""
    return {}


@pytest.fixture
def services(make_sim, tmp_path: Path, fresh_postgres_url: str, sim_options: dict, monkeypatch):
    sim = make_sim(seed=3, clients=5, redundant_seconds=1.0, **sim_options)
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(REPO / "deploy" / "dagster.yaml", home / "dagster.yaml")
    port = _free_port()
    (tmp_path / "workspace.yaml").write_text(
        f"load_from:\n  - grpc_server: {{host: 127.0.0.1, port: {port}, location_name: omie_pipeline}}\n"
    )
    broker = _redis_db_url()
    env = sync_env(
        sim,
        home,
        fresh_postgres_url,
        generated_deals_csv(tmp_path / "deals.csv", DEALS, 5),
        tmp_path / "reports",
        account=ACCOUNT,
        DAGSTER_PG_URL=fresh_postgres_url.replace("postgresql+psycopg2://", "postgresql://"),
        OMIE_PIPELINE_EXECUTOR="celery",
        OMIE_PIPELINE_CELERY_BROKER=broker,
        OMIE_PIPELINE_CELERY_BACKEND=broker,
        OMIE_PIPELINE_PACING_URL=broker,  # one pacing authority for the workers, as a cluster has
        PATH=f"{BIN}:{os.environ['PATH']}",
    )
    monkeypatch.setenv("DAGSTER_PG_URL", env["DAGSTER_PG_URL"])  # this process opens the instance too
    subprocess.run(["redis-cli", "-n", broker.rsplit("/", 1)[1], "flushdb"])
    started: list[subprocess.Popen] = []

    def start(name: str, *args: str) -> subprocess.Popen:
        log = (tmp_path / f"{name}.log").open("ab")
        process = subprocess.Popen(
            list(args), cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        started.append(process)
        return process

    start(
        "code-server",
        str(BIN / "dagster"),
        "code-server",
        "start",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-m",
        "omie_pipeline.definitions",
        "-a",
        "defs",
    )
    workers = [
        start(
            f"worker{n}",
            str(BIN / "dagster-celery"),
            "worker",
            "start",
            "-y",
            str(REPO / "deploy" / "celery.yaml"),
            "-A",
            "dagster_celery.app",
            "-n",
            f"worker{n}",
            "--",
            "--concurrency",
            "1",
        )
        for n in (1, 2)
    ]
    _wait_for(
        lambda: (
            subprocess.run(
                [str(BIN / "dagster"), "api", "grpc-health-check", "--port", str(port)], env=env, capture_output=True
            ).returncode
            == 0
        ),
        90,
        "code server",
    )
    start("daemon", str(BIN / "dagster-daemon"), "run", "-w", str(tmp_path / "workspace.yaml"))
    try:
        yield env, tmp_path, workers, sim
    finally:
        for process in started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in started:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(1)
    raise AssertionError(f"{what} not ready after {timeout} s")


SLOTS = {"emission_job": "emission", "catalog_job": "catalog", "invoice_status_refresh_job": "status"}


def _launch(env: dict, workspace: Path, job: str, partition: str) -> str:
    """Launch one run of `job` for the account, with the tags Dagster gives a run launched for that
    partition (the CLI takes no partition: the tags are set as the job's partitioned config sets them).
    Returns the run's id (the daemon's own schedule ticks may add runs of their own meanwhile)."""
    run_id = str(uuid.uuid4())
    out = subprocess.run(
        [
            str(BIN / "dagster"),
            "job",
            "launch",
            "-w",
            str(workspace),
            "-j",
            job,
            "--tags",
            json.dumps({"dagster/partition": partition, "omie_pipeline/run_slot": f"{SLOTS[job]}:{partition}"}),
            "--run-id",
            run_id,
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return run_id


def test_runs_queue_per_account_and_steps_run_on_celery_workers(services):
    env, tmp_path, workers, sim = services
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        instance.add_dynamic_partitions("omie_account", [ACCOUNT])
        launched = [
            _launch(env, tmp_path / "workspace.yaml", job, ACCOUNT)
            for job in ("emission_job", "emission_job", "catalog_job")
        ]
        final = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}

        def ours() -> list[dg.DagsterRun]:
            return instance.get_runs(dg.RunsFilter(run_ids=launched))

        _wait_for(lambda: len(ours()) == 3 and all(run.status in final for run in ours()), 240, "runs to finish")
        runs = ours()
        assert [run.status for run in runs] == [dg.DagsterRunStatus.SUCCESS] * 3
        records = {record.dagster_run.run_id: record for record in instance.get_run_records()}
        first, second = sorted(
            (records[run.run_id] for run in runs if run.job_name == "emission_job"), key=lambda r: r.start_time
        )
        [catalog] = [records[run.run_id] for run in runs if run.job_name == "catalog_job"]
        # the second emission run of the account waited for the first; the catalog run has a slot of its
        # own (whether it overlaps depends on how fast the coordinator launches it on a busy machine)
        assert second.start_time >= first.end_time
        assert catalog.dagster_run.tags["omie_pipeline/run_slot"] == f"catalog:{ACCOUNT}"
        assert sum(sim.stats()["rejected"].values()) == 0  # the workers paced through one Redis ledger
        worker_pids = set()
        for worker in workers:
            children = subprocess.run(["pgrep", "-P", str(worker.pid)], capture_output=True, text=True).stdout
            worker_pids |= {int(pid) for pid in children.split()}
            grand = subprocess.run(["pgrep", "-P", ",".join(children.split()) or "0"], capture_output=True, text=True)
            worker_pids |= {int(pid) for pid in grand.stdout.split()}
        step_pids = {
            record.event_log_entry.dagster_event.pid
            for run in runs
            for record in instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.STEP_START).records
        }
        assert step_pids and step_pids <= worker_pids, (step_pids, worker_pids)


def _step_pids(instance: dg.DagsterInstance, run_id: str, step: str | None = None) -> set[int]:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_START).records
    return {
        record.event_log_entry.dagster_event.pid
        for record in records
        if step is None or record.event_log_entry.dagster_event.step_key == step
    }


@pytest.mark.parametrize("sim_options", [{"latency": (0.3, 0.4)}])
def test_a_worker_killed_mid_emission_fails_the_run_and_the_retry_issues_nothing_twice(services):
    env, tmp_path, _workers, sim = services
    workspace = tmp_path / "workspace.yaml"
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        instance.add_dynamic_partitions("omie_account", [ACCOUNT])
        catalog = _launch(env, workspace, "catalog_job", ACCOUNT)
        _wait_for(lambda: getattr(instance.get_run_by_id(catalog), "status", None) in FINAL, 120, "catalog run")
        first = instance.get_run_by_id(_launch(env, workspace, "emission_job", ACCOUNT))

        def emitting() -> bool:
            with sim.state.lock:
                return bool(sim.state.orders) and bool(_step_pids(instance, first.run_id, "nfse_invoices"))

        _wait_for(emitting, 120, "emission under way")
        (victim,) = _step_pids(instance, first.run_id, "nfse_invoices")
        os.kill(victim, signal.SIGKILL)  # the worker's process running the step dies mid-emission
        _wait_for(lambda: instance.get_run_by_id(first.run_id).status in FINAL, 120, "the killed run to end")
        assert instance.get_run_by_id(first.run_id).status == dg.DagsterRunStatus.FAILURE

        def retried() -> list[dg.DagsterRun]:
            return instance.get_runs(dg.RunsFilter(tags={"dagster/parent_run_id": first.run_id}))

        _wait_for(lambda: retried() and retried()[0].status in FINAL, 150, "the retry to end")
        assert retried()[0].status == dg.DagsterRunStatus.SUCCESS
        assert victim not in _step_pids(instance, retried()[0].run_id)
    with sim.state.lock:
        keys = [order.c_cod_int_os for order in sim.state.orders.values()]
    assert keys and len(keys) == len(set(keys)), "two OS for one deal"
