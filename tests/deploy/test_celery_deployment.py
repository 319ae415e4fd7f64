"""The production shape on one machine: a gRPC code server, the daemon with the queued run coordinator
on PostgreSQL, and two Celery workers (broker and pacing ledger: Redis), each a separate process, serving
two Omie companies from an accounts file. The daemon registers the accounts (sensor) and starts the
emission runs (schedule, every minute here); their steps execute on the workers, a second run of one
account waits for the first while the other account's run goes ahead, the workers never exceed Omie's
budgets together, and a worker's process killed mid-emission fails the run, which the run-retry policy
starts again without a second OS."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
import yaml
from reliability.processes import REPO, generated_deals_csv, sync_env

from omie_pipeline.domain.timeutil import SAO_PAULO
from omie_pipeline.store import Store
from omie_pipeline.store.invoices import list_invoices

pytestmark = [pytest.mark.integration, pytest.mark.deployment, pytest.mark.timeout(600)]
BIN = Path(sys.executable).parent
# Deals per account at the start (a few are invalid or unmapped, as in a CRM).
DEALS = {"acme": 6, "beta": 6}
# Deals acme closes later, while Omie is slow to answer their IncluirOS (SLOW_INCLUIR_OS answers of
# SLOW_SECONDS each, 4 in flight): the run issuing them lasts over a minute and a half, so the next
# tick's acme run must wait for it, while beta's run of that tick goes ahead.
LATER_DEALS, SLOW_INCLUIR_OS, SLOW_SECONDS = 24, 16, 25
FINAL = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
WORKER_NAMES = ("worker1", "worker2")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _redis_server() -> str:
    """The path of redis-server: the test runs a Redis of its own, so that no other deployment on this
    machine (another test run, a developer's workers) shares its broker queue or its pacing ledger."""
    server = shutil.which("redis-server")
    if server is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed")
        pytest.skip("redis-server is not installed")
    return server


def _accounts_file(tmp_path: Path, sim) -> tuple[Path, dict[str, str], dict[str, str]]:
    """One account per simulated company, each with its own deals; returns the file, the variables
    holding the keys and each account's app key."""
    variables: dict[str, str] = {}
    keys: dict[str, str] = {}
    entries = []
    for (account, count), (app_key, app_secret) in zip(DEALS.items(), sim.credentials, strict=True):
        prefix = account.upper()
        variables[f"{prefix}_OMIE_KEY"], variables[f"{prefix}_OMIE_SECRET"] = app_key, app_secret
        keys[account] = app_key
        deals = generated_deals_csv(tmp_path / f"{account}.csv", count, 5 + len(entries))
        entries.append(
            {
                "id": account,
                "name": f"{account.title()} Ltda",
                "omie": {"app_key_env": f"{prefix}_OMIE_KEY", "app_secret_env": f"{prefix}_OMIE_SECRET"},
                "deals": {"url": str(deals)},
                "service_map": str(REPO / "config" / "service_map.yaml"),
            }
        )
    path = tmp_path / "accounts.yaml"
    path.write_text(yaml.safe_dump({"accounts": entries}), encoding="utf-8")
    return path, variables, keys


@pytest.fixture
def services(make_companies_sim, tmp_path: Path, fresh_postgres_url: str, monkeypatch):
    sim = make_companies_sim(len(DEALS), seed=3, clients=5, redundant_seconds=1.0, latency=(0.2, 0.3))
    accounts, variables, keys = _accounts_file(tmp_path, sim)
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(REPO / "deploy" / "dagster.yaml", home / "dagster.yaml")
    port = _free_port()
    (tmp_path / "workspace.yaml").write_text(
        f"load_from:\n  - grpc_server: {{host: 127.0.0.1, port: {port}, location_name: omie_pipeline}}\n"
    )
    redis_port = _free_port()
    redis = f"redis://127.0.0.1:{redis_port}"
    env = sync_env(
        sim,
        home,
        fresh_postgres_url,
        tmp_path / "unused.csv",
        tmp_path / "reports",
        DAGSTER_PG_URL=fresh_postgres_url.replace("postgresql+psycopg2://", "postgresql://"),
        OMIE_PIPELINE_ACCOUNTS=str(accounts),
        OMIE_PIPELINE_EMISSION_CRON="* * * * *",
        OMIE_PIPELINE_EXECUTOR="celery",
        OMIE_PIPELINE_CELERY_BROKER=f"{redis}/0",
        OMIE_PIPELINE_CELERY_BACKEND=f"{redis}/1",
        OMIE_PIPELINE_PACING_URL=f"{redis}/2",  # one pacing authority for the workers, as a cluster has
        PATH=f"{BIN}:{os.environ['PATH']}",
        **variables,
    )
    for single in ("OMIE_APP_KEY", "OMIE_APP_SECRET", "SALESOS_DEALS_URL"):
        env.pop(single)  # the accounts file alone says which companies are served
    monkeypatch.setenv("DAGSTER_PG_URL", env["DAGSTER_PG_URL"])  # this process opens the instance too
    started: list[subprocess.Popen] = []

    def start(name: str, *args: str) -> subprocess.Popen:
        log = (tmp_path / f"{name}.log").open("ab")
        process = subprocess.Popen(
            list(args), cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        started.append(process)
        return process

    start("redis", _redis_server(), "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "")
    _wait_for(
        lambda: subprocess.run(["redis-cli", "-p", str(redis_port), "ping"], capture_output=True).returncode == 0,
        30,
        "Redis",
    )
    start(
        "code-server",
        *(str(BIN / "dagster"), "code-server", "start", "-h", "127.0.0.1", "-p", str(port)),
        *("-m", "omie_pipeline.definitions", "-a", "defs"),
    )
    workers = {
        name: start(
            name,
            *(str(BIN / "dagster-celery"), "worker", "start", "-y", str(REPO / "deploy" / "celery.yaml")),
            *("-A", "dagster_celery.app", "-n", name, "--", "--concurrency", "1"),
        )
        for name in WORKER_NAMES
    }
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
        with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
            store = Store(fresh_postgres_url)
            yield Deployment(env, tmp_path / "workspace.yaml", workers, sim, keys, instance, store)
            store.dispose()
    finally:
        _stop(started)


def _stop(started: list[subprocess.Popen]) -> None:
    """Stop each service and whatever it started (`dagster-celery worker start` runs `celery worker` as
    a child, which outlives it when its broker is gone first): the group is killed once its leader
    has had its time to stop."""
    for process in reversed(started):  # workers and daemon before the broker they talk to
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


class Deployment:
    """The running services, the simulator, each account's app key and the instance they share."""

    def __init__(self, env, workspace, workers, sim, keys, instance, store) -> None:
        self.env, self.workspace, self.workers, self.sim, self.keys = env, workspace, workers, sim, keys
        self.instance: dg.DagsterInstance = instance
        self.store: Store = store
        self.catalogs_synced_at = float("inf")

    def deals_csv(self, account: str) -> Path:
        return self.workspace.with_name(f"{account}.csv")

    def submitted_keys(self, account: str) -> list[str]:
        """The integration codes (cCodIntOS) of the account's invoices the state store says reached Omie."""
        with self.store.connect() as connection:
            return [invoice.idempotency_key for invoice in list_invoices(connection, account) if invoice.submitted_at]

    def assert_one_os_per_deal_each_billed_once(self, account: str) -> None:
        orders = self.orders(account)
        keys = [order.c_cod_int_os for order in orders]
        assert len(keys) == len(set(keys)), f"{account}: two OS for one deal"
        assert sorted(keys) == sorted(self.submitted_keys(account)), account
        assert all(order.faturada for order in orders), f"{account}: an OS not billed"
        assert set(self.nfse_count_by_order(account).values()) <= {1}, f"{account}: an OS billed twice"

    def orders(self, account: str) -> list:
        state = self.sim.company(self.keys[account]).state
        with state.lock:
            return list(state.orders.values())

    def nfse_count_by_order(self, account: str) -> dict[int, int]:
        state = self.sim.company(self.keys[account]).state
        with state.lock:
            counts: dict[int, int] = {}
            for nfse in state.nfses.values():
                counts[nfse.n_cod_os] = counts.get(nfse.n_cod_os, 0) + 1
            return counts

    def emission_runs(self, account: str | None = None) -> list[dg.RunRecord]:
        """The emission runs the daemon's schedule (or its run retries) started, oldest first."""
        tags = {"dagster/schedule_name": "emission_schedule"}
        if account:
            tags["dagster/partition"] = account
        records = self.instance.get_run_records(dg.RunsFilter(job_name="emission_job", tags=tags))
        return sorted(records, key=lambda record: record.create_timestamp)

    def worker_pids(self) -> dict[int, str]:
        """The pid of every process of each worker (its pool's processes run the steps) -> worker name."""
        pids: dict[int, str] = {}
        for name, worker in self.workers.items():
            generation = [worker.pid]
            while generation:
                pids.update(dict.fromkeys(generation, name))
                children = subprocess.run(
                    ["pgrep", "-P", ",".join(map(str, generation))], capture_output=True, text=True
                ).stdout
                generation = [int(pid) for pid in children.split()]
        return pids

    def register_and_sync_catalogs(self) -> None:
        """Wait for the omie_accounts sensor to register both accounts, then sync their catalogs (the
        daily catalog schedule would do it at 06:00): emission needs the services and tax rates."""
        _wait_for(
            lambda: sorted(self.instance.get_dynamic_partitions("omie_account")) == sorted(DEALS),
            90,
            "the omie_accounts sensor to register the accounts file's accounts",
        )
        launched = [_launch(self, "catalog_job", account) for account in DEALS]
        _wait_for(lambda: all(self._status(run_id) in FINAL for run_id in launched), 180, "catalog runs")
        assert [self._status(run_id) for run_id in launched] == [dg.DagsterRunStatus.SUCCESS] * 2
        self.catalogs_synced_at = time.time()

    def emitted_since_catalogs(self, account: str) -> bool:
        """A run of the account created after its catalog was synced has succeeded: it issued every
        invoiceable deal (a later run finds nothing left to do)."""
        return any(
            record.dagster_run.status == dg.DagsterRunStatus.SUCCESS
            and record.create_timestamp.timestamp() > self.catalogs_synced_at
            for record in self.emission_runs(account)
        )

    def _status(self, run_id: str):
        run = self.instance.get_run_by_id(run_id)
        return run.status if run else None


def _wait_for(condition, timeout: float, what: str, story=None) -> None:
    """Wait for `condition`; on timeout, fail with `story()` (where the runs stood) when given."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(1)
    raise AssertionError(f"{what} not ready after {timeout} s" + (f"\n{story()}" if story else ""))


def _run_story(instance: dg.DagsterInstance, run_id: str, last: int = 40) -> str:
    """The run's status and its last events: what a wait on the run shows when it times out."""
    run = instance.get_run_by_id(run_id)
    lines = [f"run {run_id}: {run.status.value if run else 'not found'}"]
    for record in instance.get_records_for_run(run_id).records[-last:]:
        entry = record.event_log_entry
        kind = entry.dagster_event_type.value if entry.dagster_event_type else "log"
        lines.append(f"  {kind} {entry.step_key or ''}: {(entry.user_message or '')[:200]}")
    return "\n".join(lines)


def _launch(deployment: Deployment, job: str, account: str) -> str:
    """Launch one run of `job` for the account, with the tags Dagster gives a run launched for that
    partition (the CLI takes no partition); returns the run's id."""
    run_id = str(uuid.uuid4())
    tags = {"dagster/partition": account, "omie_pipeline/run_slot": f"{job.removesuffix('_job')}:{account}"}
    out = subprocess.run(
        [str(BIN / "dagster"), "job", "launch", "-w", str(deployment.workspace), "-j", job]
        + ["--tags", json.dumps(tags), "--run-id", run_id],
        cwd=REPO,
        env=deployment.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return run_id


def _celery_steps(instance: dg.DagsterInstance, run_id: str) -> dict[str, tuple[str, int]]:
    """Each step of the run -> (the Celery worker that executed it, as dagster-celery names it in its
    engine event, `worker1@<host>`; the pid of the process that started the step, from its STEP_START)."""
    workers = {}
    for record in instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT).records:
        event = record.event_log_entry.dagster_event
        if "Celery worker" in event.engine_event_data.metadata:
            workers[event.step_key] = event.engine_event_data.metadata["Celery worker"].value
    return {step: (worker, pid) for step, worker in workers.items() for pid in _step_pids(instance, run_id, step)}


def _step_pids(instance: dg.DagsterInstance, run_id: str, step: str | None = None) -> set[int]:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_START).records
    return {
        record.event_log_entry.dagster_event.pid
        for record in records
        if step is None or record.event_log_entry.dagster_event.step_key == step
    }


STEP_OUTCOMES = {
    dg.DagsterEventType.STEP_SUCCESS,
    dg.DagsterEventType.STEP_FAILURE,
    dg.DagsterEventType.STEP_UP_FOR_RETRY,
}


def _attempt_in_flight(instance: dg.DagsterInstance, run_id: str, step: str) -> int | None:
    """The pid running the step's latest attempt when that attempt has no outcome yet, else None (a
    first attempt that failed under load is retried by the step's retry policy in the same run)."""
    records = instance.get_records_for_run(run_id, of_type={dg.DagsterEventType.STEP_START, *STEP_OUTCOMES}).records
    events = [record.event_log_entry.dagster_event for record in records]
    last = next((event for event in reversed(events) if event.step_key == step), None)
    return last.pid if last is not None and last.event_type == dg.DagsterEventType.STEP_START else None


def _step_succeeded(instance: dg.DagsterInstance, run_id: str, step: str) -> bool:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_SUCCESS).records
    return any(record.event_log_entry.dagster_event.step_key == step for record in records)


def _step_timeline(instance: dg.DagsterInstance, run_id: str, step: str, killed_at: float) -> str:
    """The step's events, each with its time from the kill: what a failed assertion shows."""
    lines = [
        f"{record.event_log_entry.timestamp - killed_at:+7.1f} s {record.event_log_entry.dagster_event_type}"
        f" pid {record.event_log_entry.dagster_event.pid}"
        for record in instance.get_records_for_run(run_id).records
        if record.event_log_entry.dagster_event and record.event_log_entry.dagster_event.step_key == step
    ]
    return "events of the step, from the kill:\n" + "\n".join(lines)


def _launched_at(instance: dg.DagsterInstance, record: dg.RunRecord) -> float:
    """When the queued run coordinator took the run out of the queue and launched it."""
    run_id = record.dagster_run.run_id
    [starting] = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_STARTING).records
    return starting.event_log_entry.timestamp


def _overlap(first: dg.RunRecord, second: dg.RunRecord, seconds: float = 0) -> bool:
    """`second` was created (queued) over `seconds` before `first` ended."""
    return first.end_time is not None and second.create_timestamp.timestamp() < first.end_time - seconds


def _close_more_deals(deals_csv: Path, count: int) -> None:
    """The CRM closes `count` more deals, just now (the pull reads what changed since its watermark)."""
    with deals_csv.open(encoding="utf-8", newline="") as handle:
        fields = next(csv.reader(handle))
    now = datetime.now(SAO_PAULO).replace(microsecond=0)
    later = generated_deals_csv(deals_csv.with_name("later.csv"), count, 99)
    with later.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row["closed_at"], row["updated_at"] = (now - timedelta(minutes=1)).isoformat(), now.isoformat()
    with deals_csv.open("a", encoding="utf-8", newline="") as handle:
        csv.DictWriter(handle, fieldnames=fields).writerows(rows)


def test_the_daemon_emits_for_two_accounts_on_two_celery_workers(services: Deployment):
    deployment, instance = services, services.instance
    deployment.register_and_sync_catalogs()
    _wait_for(lambda: all(deployment.emitted_since_catalogs(account) for account in DEALS), 180, "first invoices")
    first_orders = len(deployment.orders("acme"))
    deployment.sim.set_faults(slow_next=SLOW_INCLUIR_OS, slow_seconds=SLOW_SECONDS, methods=["IncluirOS"])
    _close_more_deals(deployment.deals_csv("acme"), LATER_DEALS)

    def held_pair() -> tuple[dg.RunRecord, dg.RunRecord] | None:
        """Two consecutive acme runs, the second queued for over 20 s while the first held the slot."""
        acme = [record for record in deployment.emission_runs("acme") if record.dagster_run.status in FINAL]
        pairs = [(a, b) for a, b in zip(acme, acme[1:], strict=False) if _overlap(a, b, 20)]
        issued = len(deployment.orders("acme")) >= first_orders + SLOW_INCLUIR_OS
        return max(pairs, key=lambda p: p[0].end_time - p[1].create_timestamp.timestamp()) if issued and pairs else None

    _wait_for(held_pair, 300, "a tick's acme run queued behind the slow one before it")
    holder, waiter = held_pair()
    pids = deployment.worker_pids()  # before any pool process could be replaced
    runs = [record for record in deployment.emission_runs() if record.dagster_run.status in FINAL]
    assert {record.dagster_run.status for record in runs} == {dg.DagsterRunStatus.SUCCESS}

    # the per-account limit: acme's next run left the queue only once the one before had ended, while
    # beta's run of the same tick was launched before that
    assert _launched_at(instance, waiter) >= holder.end_time
    [beta] = [
        record
        for record in deployment.emission_runs("beta")
        if abs(record.create_timestamp.timestamp() - waiter.create_timestamp.timestamp()) < 20
    ]
    assert _launched_at(instance, beta) < holder.end_time, "beta's run waited for acme's"

    # every step of every run executed in a process of one of the two workers, named in the event log
    # with the worker's host; both workers took steps
    host = socket.gethostname()
    workers_used = set()
    for record in runs:
        steps = _celery_steps(instance, record.dagster_run.run_id)
        assert {"closed_deals", "client_index", "client_links", "nfse_invoices"} <= set(steps)
        for step, (worker, pid) in steps.items():
            name, _, worker_host = worker.partition("@")
            assert worker_host == host and pids.get(pid) == name, (step, worker, pid, pids)
            workers_used.add(name)
    assert workers_used == set(WORKER_NAMES)

    # the workers paced through one Redis ledger: Omie refused nothing; one OS per deal, each billed once
    assert sum(deployment.sim.stats()["rejected"].values()) == 0
    assert len(deployment.orders("acme")) >= first_orders + SLOW_INCLUIR_OS and deployment.orders("beta")
    for account in DEALS:
        deployment.assert_one_os_per_deal_each_billed_once(account)


def test_a_worker_killed_mid_emission_fails_the_run_and_the_retry_issues_nothing_twice(services: Deployment):
    deployment, instance = services, services.instance
    # Omie takes its time to bill: the step is caught with OS included and not yet billed
    deployment.sim.set_faults(slow_next=100, slow_seconds=8, methods=["FaturarOS"])
    deployment.register_and_sync_catalogs()

    def emitting() -> dg.RunRecord | None:
        """acme's run whose nfse_invoices step has included an OS and has not ended: it waits on a slow
        FaturarOS (the run alone being under way is not enough: after the step, its checks run)."""
        if not deployment.orders("acme"):
            return None
        for record in deployment.emission_runs("acme"):
            run_id = record.dagster_run.run_id
            if record.dagster_run.status == dg.DagsterRunStatus.STARTED and _attempt_in_flight(
                instance, run_id, "nfse_invoices"
            ):
                return record
        return None

    _wait_for(emitting, 240, "acme's emission under way")
    first = emitting().dagster_run
    victim = _attempt_in_flight(instance, first.run_id, "nfse_invoices")
    assert victim in deployment.worker_pids()
    os.kill(victim, signal.SIGKILL)  # the worker's process running the step dies mid-emission
    killed_at = time.time()
    _wait_for(
        lambda: instance.get_run_by_id(first.run_id).status in FINAL,
        120,
        "the killed run to end",
        lambda: _run_story(instance, first.run_id),
    )
    timeline = _step_timeline(instance, first.run_id, "nfse_invoices", killed_at)
    assert not _step_succeeded(instance, first.run_id, "nfse_invoices"), timeline
    assert instance.get_run_by_id(first.run_id).status == dg.DagsterRunStatus.FAILURE, timeline

    def retried() -> list[dg.DagsterRun]:
        return instance.get_runs(dg.RunsFilter(tags={"dagster/parent_run_id": first.run_id}))

    _wait_for(
        lambda: retried() and retried()[0].status in FINAL,
        180,
        "the retry to end",
        lambda: _run_story(instance, retried()[0].run_id) if retried() else "no retry run launched",
    )
    assert retried()[0].status == dg.DagsterRunStatus.SUCCESS
    assert victim not in _step_pids(instance, retried()[0].run_id)
    deployment.assert_one_os_per_deal_each_billed_once("acme")
    assert sum(deployment.sim.stats()["rejected"].values()) == 0
