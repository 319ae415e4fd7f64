"""`omie-pipeline demo` and `sync`: the whole graph through Dagster, as a new user runs it."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

REPO = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).with_name("omie-pipeline"))
SAMPLE = REPO / "omie_pipeline" / "sample_data" / "deals.csv"


def _run(args: list[str], env: dict[str, str], timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def _clean_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OMIE_", "SALESOS_", "DAGSTER_"))}
    env.update(extra)
    return env


def test_demo_accounts_for_every_sample_deal(tmp_path: Path) -> None:
    result = _run(["demo", "--json", "--home", str(tmp_path / "home")], _clean_env())
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)

    with SAMPLE.open(encoding="utf-8") as handle:
        sample_rows = list(csv.DictReader(handle))
    closed_ids = {row["deal_id"] for row in sample_rows if row["deal_id"] and row["status"].strip().lower() == "won"}
    outcomes = {deal["deal_id"]: deal for deal in summary["deals"]}
    assert closed_ids <= set(outcomes), closed_ids - set(outcomes)
    for deal in summary["deals"]:
        assert deal["outcome"] in {"issued", "error", "issue"}, deal
        if deal["outcome"] == "issued":
            assert deal["nfse_number"]
        else:
            assert deal["reason"], deal
    counts = {outcome: sum(1 for d in summary["deals"] if d["outcome"] == outcome) for outcome in ("issued", "issue")}
    assert counts["issued"] >= 15 and counts["issue"] >= 10
    assert summary["success"] and summary["all_invoices_final"]
    assert summary["omie_rejected_calls"] == {"429": 0, "425": 0, "redundant": 0, "concurrency": 0}
    assert any(path.endswith(".xlsx") for path in summary["report_files"])
    assert "demo-secret" not in result.stdout + result.stderr

    # The runs are real Dagster runs in the demo's instance, visible in the UI afterwards.
    with dg.DagsterInstance.from_config(str(tmp_path / "home")) as instance:
        jobs = {run.job_name for run in instance.get_runs()}
    assert {"catalog_job", "emission_job", "invoice_status_refresh_job", "report_job"} <= jobs
    # The report's partitions are the sample's closing days, every one reported: no calendar of
    # never-materialised days for the UI to show as missing.
    closing_days = {row["closed_at"][:10] for row in sample_rows if row["deal_id"] in closed_ids}
    with dg.DagsterInstance.from_config(str(tmp_path / "home")) as instance:
        days = instance.get_dynamic_partitions("report_day")
        reported = instance.get_materialized_partitions(dg.AssetKey("reconciliation_report"))
        report_runs = instance.get_runs(dg.RunsFilter(job_name="report_job"))
    assert set(days) <= closing_days and len(days) == min(len(closing_days), 31)
    assert reported == {f"demo|{day}" for day in days}
    # One run writes every day: Dagster's own work around a run cost more than a day's report.
    assert len(report_runs) == 1 and len(days) > 1
    assert summary["report_phase_seconds"] > 0


def test_demo_with_two_companies_keeps_each_accounts_deals_in_its_own_company(tmp_path: Path) -> None:
    result = _run(["demo", "--accounts", "2", "--deals", "6", "--json", "--home", str(tmp_path / "home")], _clean_env())
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)

    assert summary["success"]
    assert [entry["account"] for entry in summary["accounts"]] == ["demo", "demo2"]
    for entry in summary["accounts"]:
        assert len(entry["deals"]) == 6 and all({"deal_id", "outcome"} <= set(deal) for deal in entry["deals"])
        assert entry["omie_rejected_calls"] == {"429": 0, "425": 0, "redundant": 0, "concurrency": 0}
    companies = summary["omie_companies"]
    assert len(companies) == 2 and len({company["cnpj"] for company in companies.values()}) == 2
    for entry, company in zip(summary["accounts"], companies.values(), strict=True):
        issued = sum(1 for deal in entry["deals"] if deal["outcome"] == "issued")
        assert company["data"]["orders"] >= issued > 0  # each account's invoices are in its own company
    assert "demo-secret" not in result.stdout + result.stderr

    # The report's partitions are the days either company closed deals on, each with a report for
    # both accounts (an empty one where that company closed nothing): none missing in the UI.
    with dg.DagsterInstance.from_config(str(tmp_path / "home")) as instance:
        days = instance.get_dynamic_partitions("report_day")
        reported = instance.get_materialized_partitions(dg.AssetKey("reconciliation_report"))
    assert len(days) == len(set(days)) >= 2
    assert reported == {f"{account}|{day}" for account in ("demo", "demo2") for day in days}


def test_demo_with_generated_deals_and_plain_progress_lines(tmp_path: Path) -> None:
    result = _run(["demo", "--deals", "12", "--home", str(tmp_path / "home")], _clean_env())
    assert result.returncode == 0, result.stderr[-3000:]
    assert "negócios fechados: 12" in result.stdout  # a clean environment: the summary in pt-BR, the default
    progress = [line for line in result.stderr.splitlines() if line.startswith("[") and "negócios concluídos" in line]
    assert progress and "\r" not in result.stderr  # not a terminal: plain lines, no live redraw
    assert any("negócios, clientes e notas" in line for line in progress)  # the progress lines in pt-BR too


def test_sync_runs_the_graph_against_the_configured_account(make_sim, tmp_path: Path) -> None:
    sim = make_sim(seed=11, clients=20, nfse_delay=(0.5, 1.5), redundant_seconds=1.0)
    config = sim.config
    env = _clean_env(
        DAGSTER_HOME=str(tmp_path / "home"),
        OMIE_BASE_URL=sim.base_url,
        OMIE_APP_KEY=config.app_key,
        OMIE_APP_SECRET=config.app_secret,
        OMIE_REDUNDANT_SECONDS="1",
        OMIE_PIPELINE_ACCOUNT="acme",
        OMIE_PIPELINE_DB_URL=f"sqlite:///{tmp_path / 'store.sqlite'}",
        SALESOS_DEALS_URL=str(SAMPLE),
        OMIE_PIPELINE_SERVICE_MAP=str(REPO / "config" / "service_map.yaml"),
        OMIE_PIPELINE_REPORTS_DIR=str(tmp_path / "reports"),
        OMIE_PIPELINE_TAX_REGIME="lucro_presumido",
    )
    result = _run(["sync", "--json", "--settle-timeout", "60"], env)
    with sim.state.lock:
        orders = len(sim.state.orders)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["success"] and summary["account"] == "acme"
    assert sum(summary["invoices"].values()) == orders > 0
    assert list((tmp_path / "reports" / "acme").glob("reconciliacao_acme_*.xlsx"))
    assert config.app_secret not in result.stdout + result.stderr


def test_sync_without_credentials_names_the_missing_variables(tmp_path: Path) -> None:
    result = _run(["sync"], _clean_env(DAGSTER_HOME=str(tmp_path)))
    assert result.returncode != 0
    assert "OMIE_APP_KEY and OMIE_APP_SECRET" in result.stderr
