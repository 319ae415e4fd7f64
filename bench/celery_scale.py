"""Emission throughput through the Celery executor with N accounts: how it grows with accounts.

Starts, as separate processes, a Redis (broker, result backend and the shared pacing ledger) and two
Celery workers (`dagster-celery worker start`, one step at a time each), on an instance from
deploy/dagster.yaml in a new PostgreSQL database; one simulator serves N companies with Omie's limits
(240 calls per key and method, 960 per IP, per `--window` seconds). Each account's catalog is synced
first, then one `emission_job` run per account starts at once (`dagster job execute`, orchestrating
in its own process, steps on the workers), each with `--deals` closed deals of new clients. Prints one
JSON line: per account and for the host, the invoices billed and the invoices billed in each full
window from the first one (what Omie's per-window limits bound; new clients' calls count against the
per-IP budget too), the seconds from the start of the runs to their end, and the calls Omie refused
(must be 0). To reach the limits, give each account more deals than a window allows:

    .venv/bin/python bench/celery_scale.py --accounts 1 --deals 600
    .venv/bin/python bench/celery_scale.py --accounts 2 --deals 400
    .venv/bin/python bench/celery_scale.py --accounts 4 --deals 200
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa
import yaml

from omie_pipeline.domain.deal import CANONICAL_COLUMNS
from omie_pipeline.sample_data.generate import generate_deals
from omie_pipeline.simulator import Simulator, SimulatorConfig
from omie_pipeline.simulator.config import derived_companies

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=2, help="accounts (companies) emitting at once (default 2)")
    parser.add_argument("--deals", type=int, default=60, help="closed deals per account (default 60)")
    parser.add_argument("--window", type=float, default=60.0, help="Omie's window in seconds (default 60)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds every Omie answer takes (default 0)")
    parser.add_argument("--postgres", default=POSTGRES, help=f"a server to create a database on (default {POSTGRES})")
    return parser.parse_args()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _deals_csv(path: Path, count: int, seed: int) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(CANONICAL_COLUMNS))
        writer.writeheader()
        writer.writerows(generate_deals(count, seed=seed))
    return path


def _run(env: dict, job: str, account: str, log: Path) -> subprocess.Popen:
    tags = {"dagster/partition": account, "omie_pipeline/run_slot": f"{job.removesuffix('_job')}:{account}"}
    command = [str(BIN / "dagster"), "job", "execute", "-m", "omie_pipeline.definitions", "-a", "defs", "-j", job]
    return subprocess.Popen(
        [*command, "--tags", json.dumps(tags)], cwd=REPO, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT
    )


def _wait(processes: list[subprocess.Popen], what: str) -> None:
    codes = [process.wait() for process in processes]
    if any(codes):
        raise SystemExit(f"{what} failed (exit codes {codes}); see the logs")


def _windows(billed: list[float], args: argparse.Namespace) -> list[int]:
    """Invoices billed in each full window, windows laid end to end from the first one billed (the
    last, partial window left out): what Omie's per-window limits bound."""
    if not billed:
        return []
    counts = [0] * int((billed[-1] - billed[0]) // args.window)
    for moment in billed:
        index = int((moment - billed[0]) // args.window)
        if index < len(counts):
            counts[index] += 1
    return counts


def main() -> None:
    args = parse_args()
    admin = sa.create_engine(args.postgres, isolation_level="AUTOCOMMIT")
    database = f"omie_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{database}"')
    db_url = sa.make_url(args.postgres).set(database=database).render_as_string(hide_password=False)
    companies = derived_companies(args.accounts, "5550001000", "bench-secret", seed=11, clients=20)
    config = SimulatorConfig(
        companies=companies, window_seconds=args.window, redundant_seconds=5.0, latency=(args.latency, args.latency)
    )
    started: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory() as folder, Simulator(config) as sim:
        folder = Path(folder)
        home = folder / "home"
        home.mkdir()
        shutil.copy(REPO / "deploy" / "dagster.yaml", home / "dagster.yaml")
        accounts = [f"a{n}" for n in range(1, args.accounts + 1)]
        variables, entries = {}, []
        for number, (account, (key, secret)) in enumerate(zip(accounts, sim.credentials, strict=True)):
            variables[f"{account.upper()}_KEY"], variables[f"{account.upper()}_SECRET"] = key, secret
            entries.append(
                {
                    "id": account,
                    "name": account,
                    "omie": {"app_key_env": f"{account.upper()}_KEY", "app_secret_env": f"{account.upper()}_SECRET"},
                    "deals": {"url": str(_deals_csv(folder / f"{account}.csv", args.deals, 100 + number))},
                }
            )
        (folder / "accounts.yaml").write_text(yaml.safe_dump({"accounts": entries}), encoding="utf-8")
        redis = f"redis://127.0.0.1:{_free_port()}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OMIE_", "SALESOS_", "DAGSTER_"))}
        env.update(
            variables,
            DAGSTER_HOME=str(home),
            DAGSTER_PG_URL=db_url,
            OMIE_PIPELINE_DB_URL=db_url,
            OMIE_BASE_URL=sim.base_url,
            OMIE_RATE_WINDOW_SECONDS=str(args.window),
            OMIE_REDUNDANT_SECONDS="5",
            OMIE_PIPELINE_ACCOUNTS=str(folder / "accounts.yaml"),
            OMIE_PIPELINE_SERVICE_MAP=str(REPO / "config" / "service_map.yaml"),
            OMIE_PIPELINE_TAX_REGIME="lucro_presumido",
            OMIE_PIPELINE_REPORTS_DIR=str(folder / "reports"),
            OMIE_PIPELINE_EXECUTOR="celery",
            OMIE_PIPELINE_CELERY_BROKER=f"{redis}/0",
            OMIE_PIPELINE_CELERY_BACKEND=f"{redis}/1",
            OMIE_PIPELINE_PACING_URL=f"{redis}/2",
            PATH=f"{BIN}:{os.environ['PATH']}",
        )
        try:
            port = redis.rsplit(":", 1)[1]
            redis_server = ["redis-server", "--port", port, "--save", ""]
            started.append(subprocess.Popen(redis_server, stdout=subprocess.DEVNULL, start_new_session=True))
            for name in ("worker1", "worker2"):
                worker = [str(BIN / "dagster-celery"), "worker", "start", "-y", str(REPO / "deploy" / "celery.yaml")]
                started.append(
                    subprocess.Popen(
                        [*worker, "-A", "dagster_celery.app", "-n", name, "--", "--concurrency", "1"],
                        cwd=REPO,
                        env=env,
                        stdout=(folder / f"{name}.log").open("ab"),
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
            from dagster import DagsterInstance

            os.environ["DAGSTER_PG_URL"] = db_url  # this process opens the instance too
            with DagsterInstance.from_config(str(home)) as instance:
                instance.add_dynamic_partitions("omie_account", accounts)
            _wait([_run(env, "catalog_job", account, folder / "catalog.log") for account in accounts], "catalog runs")
            before = sim.stats()
            begun = time.time()
            _wait([_run(env, "emission_job", account, folder / "emission.log") for account in accounts], "emission")
            ended = time.time()
            stats = sim.stats()
        finally:
            for process in reversed(started):  # the workers (and the celery processes they run), then Redis
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=30)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        per_account, every = {}, []
        for account, (key, _secret) in zip(accounts, sim.credentials, strict=True):
            state = sim.company(key).state
            with state.lock:
                billed = sorted(o.invoiced_at.timestamp() for o in state.orders.values() if o.invoiced_at)
                orders = len(state.orders)
            every += billed
            per_account[account] = {"orders": orders, "billed": len(billed), "per_full_window": _windows(billed, args)}
    rejected = sum(stats["rejected"].values()) - sum(before["rejected"].values())
    print(
        json.dumps(
            {
                "accounts": args.accounts,
                "deals_per_account": args.deals,
                "window_seconds": args.window,
                "latency": args.latency,
                "workers": 2,
                "host_billed": len(every),
                "host_per_full_window": _windows(sorted(every), args),
                "seconds": round(ended - begun, 1),
                "rejected": rejected,
                "per_account": per_account,
            }
        )
    )


if __name__ == "__main__":
    main()
