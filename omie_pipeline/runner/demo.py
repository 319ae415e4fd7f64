"""The one-command demo: the whole pipeline on a fresh SQLite store against the bundled simulator.

Omie's 60-second redundant-request interval is shortened in the demo's simulator (and client),
and so is the status refresh's grace before it asks about a pending invoice one by one, so that
status refreshes can follow the prefeitura's progress (rejections included) within a minute;
everything else, limits included, is as in production. With `faults`, the simulator also plays
Omie's throttling answers and a record refusal across the run (DEMO_FAULT_SCHEDULE).
"""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TextIO

import yaml

from omie_pipeline.domain.deal import CANONICAL_COLUMNS
from omie_pipeline.domain.taxes import regime_from_name
from omie_pipeline.runner.graph import PassResult, run_configured_pass
from omie_pipeline.runner.summary import PipelineSummary
from omie_pipeline.simulator import Simulator, SimulatorConfig
from omie_pipeline.simulator.config import derived_companies

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
REPO_ROOT = PACKAGE_ROOT.parent
SAMPLE_DEALS = PACKAGE_ROOT / "sample_data" / "deals.csv"
DEMO_ACCOUNT = "demo"
DEMO_REDUNDANT_SECONDS = 3.0
DEMO_STATUS_GRACE_MINUTES = 0.25  # the demo's prefeitura answers within 12 s
DEMO_SIMULATOR = SimulatorConfig(
    seed=2026,
    clients=60,
    nfse_delay=(2.0, 12.0),
    rejection_rate=0.1,
    redundant_seconds=DEMO_REDUNDANT_SECONDS,
    app_key="4815162342",
    app_secret="demo-secret-not-for-production",
)

DEMO_FAULT_SCHEDULE = [
    # Each throttling text of omie-api.md §15 on the calls of each stage, with short waits (N = 1-2 s);
    # `skip` lets a few calls pass so that the answers land in the middle of the work.
    {"kind": "burst", "method": "ListarCadastroServico"},
    {"kind": "wait_to_request", "method": "ListarClientes", "seconds": 1},
    {"kind": "gateway_403", "method": "IncluirCliente"},
    {"kind": "try_again_in", "method": "IncluirCliente", "seconds": 2, "delivery": "refusal", "skip": 1},
    {"kind": "concurrency", "method": "IncluirOS", "skip": 2},
    {"kind": "burst", "method": "IncluirOS", "skip": 4},
    {"kind": "wait_to_request", "method": "ValidarOS", "seconds": 1, "delivery": "in_200", "skip": 1},
    {"kind": "try_again_in", "method": "FaturarOS", "seconds": 1, "skip": 3},
    {"kind": "account_blocked", "method": "FaturarOS", "skip": 5},
    {"kind": "gateway_403", "method": "ListarNFSEs"},
    {"kind": "try_again_in", "method": "StatusOS", "seconds": 1},
]
"""The demo's fault schedule (`omie-pipeline demo --faults`): every answer but one is a wait the
pipeline sits through; "Conta bloqueada para faturamento" puts that one invoice in error."""


@dataclass
class DemoResult:
    home: Path
    summary: PipelineSummary
    pipeline: PassResult
    omie_calls: dict
    rejected_calls: dict
    report_files: list[str]
    injected_faults: dict = field(default_factory=dict)

    @property
    def success(self) -> bool:
        return self.pipeline.success

    def as_dict(self) -> dict:
        data = self.summary.as_dict()
        data.update(
            {
                "success": self.success,
                "dagster_home": str(self.home),
                "all_invoices_final": self.pipeline.settled,
                "runs": [
                    {
                        "stage": s.stage,
                        "job": s.job,
                        "run_id": s.run_id,
                        "success": s.success,
                        "seconds": round(s.seconds, 1),
                        "error": s.error,
                    }
                    for s in self.pipeline.stages
                ],
                "report_phase_seconds": round(self.pipeline.report_seconds, 1),
                "alerts": self.pipeline.sensor_results,
                "omie_calls": self.omie_calls,
                "omie_rejected_calls": self.rejected_calls,
                "omie_injected_faults": self.injected_faults,
                "report_files": self.report_files,
            }
        )
        data["deals"] = [outcome.as_dict() for outcome in self.summary.outcomes]
        data["deal_counts"] = {"closed": self.summary.deals_closed, "valid": self.summary.deals_valid}
        del data["deal_outcomes"]
        return data


def write_generated_deals(path: Path, count: int, seed: int = 2026) -> Path:
    """N generated deals in the canonical CSV columns."""
    from omie_pipeline.sample_data.generate import generate_deals

    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(CANONICAL_COLUMNS))
        writer.writeheader()
        for row in generate_deals(count, seed):
            writer.writerow({column: row.get(column, "") for column in CANONICAL_COLUMNS})
    return path


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    previous = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@dataclass
class MultiDemoResult:
    """The demo with several companies: one result per account, on one simulator and one store."""

    home: Path
    results: list[DemoResult]
    omie_companies: dict

    @property
    def success(self) -> bool:
        return all(result.success for result in self.results)

    def as_dict(self) -> dict:
        accounts = []
        for result in self.results:
            data = result.as_dict()
            data["account"] = result.summary.account
            accounts.append(data)
        return {
            "success": self.success,
            "dagster_home": str(self.home),
            "accounts": accounts,
            "omie_companies": self.omie_companies,
        }


def _demo_accounts_file(home: Path, companies, deals_csvs: list[Path]) -> tuple[Path, dict[str, str]]:
    """The accounts file of the demo's companies, and the variables holding their keys."""
    variables: dict[str, str] = {}
    entries = []
    for number, (company, deals_csv) in enumerate(zip(companies, deals_csvs, strict=True), 1):
        prefix = f"DEMO{number}_OMIE"
        variables[f"{prefix}_APP_KEY"] = company.app_key
        variables[f"{prefix}_APP_SECRET"] = company.app_secret
        entries.append(
            {
                "id": _demo_account_id(number),
                "name": f"Demo Serviços {number}",
                "omie": {"app_key_env": f"{prefix}_APP_KEY", "app_secret_env": f"{prefix}_APP_SECRET"},
                "deals": {"url": str(Path(deals_csv).resolve())},
                "service_map": str(REPO_ROOT / "config" / "service_map.yaml"),
            }
        )
    path = home / "accounts.yaml"
    path.write_text(yaml.safe_dump({"accounts": entries}, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path, variables


def _demo_account_id(number: int) -> str:
    return DEMO_ACCOUNT if number == 1 else f"{DEMO_ACCOUNT}{number}"


def run_demo(
    *,
    deals: int | None = None,
    deals_csv: Path | None = None,
    home: Path | None = None,
    settle_timeout_seconds: float = 90.0,
    stream: TextIO | None = None,
    quiet: bool = False,
    faults: bool = False,
    accounts: int = 1,
    then: Callable[[DemoResult], None] | None = None,
) -> DemoResult | MultiDemoResult:
    """Run the demo end to end and return what happened.

    With `accounts` > 1 the simulator serves that many companies and the demo's accounts file lists
    one account per company (`demo`, `demo2`, ...), each with its own keys and deals (the sample or
    generated deals for the first, generated deals of another seed for each other); one pass runs
    per account, and the result has one `DemoResult` per account.

    `faults` arms DEMO_FAULT_SCHEDULE on the simulator first. Its answers are injected faults, counted
    apart (`injected_faults`), never among the rejected calls, which stay those the client provoked.
    `then`, when given, is called with the result while the simulator and the demo's environment
    are still up (the `--ui` option serves the Dagster UI on the demo from there).
    """
    home = Path(home or tempfile.mkdtemp(prefix="omie-pipeline-demo-")).resolve()
    home.mkdir(parents=True, exist_ok=True)
    instance_config = REPO_ROOT / "dagster_home" / "dagster.yaml"
    if instance_config.exists():
        shutil.copy(instance_config, home / "dagster.yaml")
    if deals_csv is None:
        deals_csv = write_generated_deals(home / "generated_deals.csv", deals) if deals else SAMPLE_DEALS
    store_url = f"sqlite:///{home / 'omie_pipeline.sqlite'}"
    simulator_config = DEMO_SIMULATOR
    account_variables: dict[str, str] = {}
    if accounts > 1:
        companies = derived_companies(
            accounts,
            DEMO_SIMULATOR.app_key,
            DEMO_SIMULATOR.app_secret,
            DEMO_SIMULATOR.seed,
            DEMO_SIMULATOR.clients,
            DEMO_SIMULATOR.regime,
        )
        simulator_config = replace(DEMO_SIMULATOR, companies=companies)
        others = [
            write_generated_deals(home / f"deals_{_demo_account_id(number)}.csv", deals or 40, seed=2026 + number)
            for number in range(2, accounts + 1)
        ]
        accounts_path, account_variables = _demo_accounts_file(home, companies, [Path(deals_csv), *others])
        account_variables["OMIE_PIPELINE_ACCOUNTS"] = str(accounts_path)
    with (
        Simulator(simulator_config) as simulator,
        _environment(
            {
                "DAGSTER_HOME": str(home),
                "OMIE_BASE_URL": simulator.base_url,
                "OMIE_APP_KEY": DEMO_SIMULATOR.app_key,
                "OMIE_APP_SECRET": DEMO_SIMULATOR.app_secret,
                "OMIE_REDUNDANT_SECONDS": str(DEMO_REDUNDANT_SECONDS),
                "OMIE_PIPELINE_STATUS_GRACE_MINUTES": str(DEMO_STATUS_GRACE_MINUTES),
                "OMIE_PIPELINE_ACCOUNT": DEMO_ACCOUNT,
                # The simulated company's regime, confirmed as a person does for a real account.
                "OMIE_PIPELINE_TAX_REGIME": regime_from_name(DEMO_SIMULATOR.regime).value,
                "OMIE_PIPELINE_DB_URL": store_url,
                "SALESOS_DEALS_URL": str(Path(deals_csv).resolve()),
                "OMIE_PIPELINE_SERVICE_MAP": str(REPO_ROOT / "config" / "service_map.yaml"),
                "OMIE_PIPELINE_REPORTS_DIR": str(home / "reports"),
                **account_variables,
            }
        ),
    ):
        if faults:
            simulator.set_faults(schedule=DEMO_FAULT_SCHEDULE)
        results = []
        for number in range(1, accounts + 1):
            account = _demo_account_id(number)
            outcome, summary = run_configured_pass(
                account,
                store_url,
                settle_timeout_seconds=settle_timeout_seconds,
                settle_interval_seconds=DEMO_REDUNDANT_SECONDS + 1,
                report_days=31,
                stream=stream,
                quiet=quiet,
            )
            stats = simulator.stats()
            company = stats["companies"][simulator.credentials[number - 1][0]] if accounts > 1 else stats
            reports = sorted(str(path) for path in (home / "reports" / account).rglob("*") if path.is_file())
            injected = {kind: count for kind, count in stats.get("faults_injected", {}).items() if count}
            if stats.get("scheduled_by_kind"):
                injected["scheduled_by_kind"] = stats["scheduled_by_kind"]
            results.append(
                DemoResult(
                    home, summary, outcome, company.get("calls", {}), company.get("rejected", {}), reports, injected
                )
            )
        result = results[0] if accounts == 1 else MultiDemoResult(home, results, simulator.stats()["companies"])
        if then is not None:
            then(result)
    return result


def serve_dagster_ui(home: Path, port: int = 3000, stop_grace_seconds: float = 30.0) -> None:
    """`dagster dev` on the project's workspace with the current environment, until interrupted.

    It runs in a process group of its own so that stopping it (Ctrl+C or SIGTERM here) also stops
    the webserver, daemon and code servers it started, after a grace period if they linger.
    """
    command = [
        str(Path(sys.executable).with_name("dagster")),
        "dev",
        "-w",
        str(REPO_ROOT / "workspace.yaml"),
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
    ]
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, env={**os.environ, "DAGSTER_HOME": str(home)}, start_new_session=True
    )
    previous = {number: signal.signal(number, _interrupt) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        process.wait()
    except KeyboardInterrupt:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=stop_grace_seconds)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _interrupt(_signum, _frame) -> None:
    raise KeyboardInterrupt
