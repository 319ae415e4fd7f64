"""The Dagster definitions load and hold exactly the names below, the instance configs parse, and a job
runs on PostgreSQL storage."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import yaml

from omie_pipeline.definitions import defs
from omie_pipeline.defs.resources import StoreResource
from omie_pipeline.store import Store, sync_state

REPO = Path(__file__).resolve().parents[2]


def test_definitions_are_loadable() -> None:
    dg.Definitions.validate_loadable(defs)


# A change to any of these names, crons or blocking flags is deliberate: schedules, sensors' cursors,
# run history, alerts and runbooks refer to them. Update this snapshot in the same change.
ASSETS = [
    "client_index",
    "client_links",
    "closed_deals",
    "nfse_invoices",
    "nfse_status",
    "reconciliation_report",
    "service_catalog",
    "tax_rates",
]
CHECKS = [  # (asset, check, blocking)
    ("client_index", "client_documents_unique", False),
    ("client_links", "every_valid_deal_linked_or_listed", False),
    ("client_links", "one_client_per_document", False),
    ("closed_deals", "invalid_deals_listed", False),
    ("nfse_invoices", "nfse_invoices_deals_ready", False),
    ("nfse_invoices", "nfse_invoices_one_os_and_nfse_each", False),
    ("nfse_invoices", "nfse_invoices_outcomes_known", False),
    ("nfse_status", "nfse_status_fresh", False),
    ("nfse_status", "nfse_status_issued_complete", False),
    ("nfse_status", "nfse_status_no_errors", False),
    ("nfse_status", "nfse_status_none_stuck", False),
    ("reconciliation_report", "reconciliation_report_every_deal_once", False),
    ("reconciliation_report", "reconciliation_report_no_stuck_or_failed_invoices", False),
    ("reconciliation_report", "reconciliation_report_totals_match_store", False),
    ("service_catalog", "service_catalog_fresh", False),
    ("service_catalog", "service_map_file_valid", False),
    ("tax_rates", "closed_deal_products_invoiceable", False),
    ("tax_rates", "mapped_services_have_rates", False),
    ("tax_rates", "tax_rates_follow_rules", False),
    ("tax_rates", "tax_rates_fresh", False),
]
JOBS = [
    "catalog_job",
    "emission_job",
    "freshness_checks_job",
    "invoice_cancel_job",
    "invoice_retry_job",
    "invoice_status_refresh_job",
    "invoice_wait_job",
    "report_job",
]
SCHEDULES = [  # (name, cron, timezone, job)
    ("catalog_schedule", "0 6 * * *", "America/Sao_Paulo", "catalog_job"),
    ("emission_schedule", "*/15 * * * *", "America/Sao_Paulo", "emission_job"),
    ("freshness_schedule", "*/5 * * * *", "America/Sao_Paulo", "freshness_checks_job"),
    ("report_schedule", "30 18 * * *", "America/Sao_Paulo", "report_job"),
    ("status_refresh_schedule", "*/5 * * * *", "America/Sao_Paulo", "invoice_status_refresh_job"),
]
SENSORS = [
    "alert_redelivery",
    "changed_sales",
    "failed_checks",
    "failed_invoices",
    "omie_accounts",
    "stuck_invoices",
    "sync_run_failures",
]
RESOURCES = ["alerts", "deal_source", "omie", "pipeline", "store"]
PARTITIONS = {  # asset: its partitions by dimension, dynamic ones by the name the instance stores them under
    "client_index": "omie_account",
    "client_links": "omie_account",
    "closed_deals": "omie_account",
    "nfse_invoices": "omie_account",
    "nfse_status": "omie_account",
    "reconciliation_report": {"account": "omie_account", "date": "report_day"},
    "service_catalog": "omie_account",
    "tax_rates": "omie_account",
}


def _partitions_shape(partitions_def) -> object:
    if isinstance(partitions_def, dg.MultiPartitionsDefinition):
        return {
            dimension.name: _partitions_shape(dimension.partitions_def) for dimension in partitions_def.partitions_defs
        }
    assert isinstance(partitions_def, dg.DynamicPartitionsDefinition), partitions_def
    return partitions_def.name


def test_the_definitions_hold_exactly_the_snapshot() -> None:
    repository = defs.get_repository_def()
    graph = repository.asset_graph
    assert sorted(key.to_user_string() for key in graph.get_all_asset_keys()) == ASSETS
    specs = [graph.get_check_spec(key) for key in graph.asset_check_keys]
    assert sorted((spec.asset_key.to_user_string(), spec.name, spec.blocking) for spec in specs) == CHECKS
    assert sorted(job.name for job in repository.get_all_jobs() if not job.name.startswith("__")) == JOBS
    assert (
        sorted((s.name, s.cron_schedule, s.execution_timezone, s.job_name) for s in repository.schedule_defs)
        == SCHEDULES
    )
    assert sorted(sensor.name for sensor in repository.sensor_defs) == SENSORS
    assert sorted(defs.resources) == RESOURCES
    # The report's days are a dimension of reported days, not a calendar of days that never had one.
    shapes = {
        key.to_user_string(): _partitions_shape(graph.get(key).partitions_def) for key in graph.get_all_asset_keys()
    }
    assert shapes == PARTITIONS


JOB_PARTITIONS = {  # job: its partitions, inferred from its assets (the checks' assets for freshness_checks_job)
    "catalog_job": "omie_account",
    "emission_job": "omie_account",
    "freshness_checks_job": "omie_account",
    "invoice_status_refresh_job": "omie_account",
    "report_job": {"account": "omie_account", "date": "report_day"},
}


def test_each_partitioned_job_runs_per_partition_of_its_assets_with_its_run_slot() -> None:
    jobs = {name: defs.resolve_job_def(name) for name in JOB_PARTITIONS}
    assert {name: _partitions_shape(job.partitions_def) for name, job in jobs.items()} == JOB_PARTITIONS
    for name, job in jobs.items():
        # The run-slot tags come from the partitioned config, which must speak of the job's own partitions.
        assert job.partitioned_config is not None, name
        assert job.partitioned_config.partitions_def == job.partitions_def, name
    tags = jobs["freshness_checks_job"].partitioned_config.get_tags_for_partition_key("acme")
    assert tags["omie_pipeline/run_slot"] == "freshness:acme"


def test_the_jobs_use_no_deprecated_dagster_parameter() -> None:
    # In a fresh interpreter: the module's jobs are built once per process, at its first import.
    result = subprocess.run(
        [
            sys.executable,
            "-W",
            "error::DeprecationWarning:omie_pipeline.defs.jobs",
            "-c",
            "import omie_pipeline.defs.jobs",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_freshness_is_judged_by_its_own_job_only() -> None:
    def checks_of(job: str) -> set[str]:
        return {key.name for key in defs.resolve_job_def(job).asset_layer.asset_graph.asset_check_keys}

    freshness = {"nfse_status_fresh", "service_catalog_fresh", "tax_rates_fresh"}
    assert checks_of("freshness_checks_job") == freshness
    for job in ("invoice_status_refresh_job", "catalog_job"):
        assert checks_of(job) and not checks_of(job) & freshness, job


def test_workspace_validates_with_the_dagster_cli(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(Path(sys.executable).with_name("dagster")), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO,
        env={"DAGSTER_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_both_instance_configs_parse_into_instances(tmp_path: Path, monkeypatch) -> None:
    for name in ("dagster.yaml", "dagster.postgres.yaml"):
        config = yaml.safe_load((REPO / "dagster_home" / name).read_text())
        assert "max_concurrent_runs" not in (config.get("run_coordinator", {}).get("config") or {})
    home = tmp_path / "sqlite_home"
    home.mkdir()
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.run_coordinator is not None


@dg.op
def record_heartbeat(store: StoreResource) -> str:
    with store.store().begin() as connection:
        sync_state.set_datetime(connection, "acme", "heartbeat", datetime.now(UTC))
    return "ok"


@dg.job(resource_defs={"store": StoreResource.configure_at_launch()})
def heartbeat_job() -> None:
    record_heartbeat()


def test_a_job_runs_on_an_instance_with_postgresql_storage(
    tmp_path: Path, fresh_postgres_url: str, monkeypatch
) -> None:
    home = tmp_path / "pg_home"
    home.mkdir()
    shutil.copy(REPO / "dagster_home" / "dagster.postgres.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_PG_URL", fresh_postgres_url.replace("+psycopg2", ""))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        result = heartbeat_job.execute_in_process(
            instance=instance, run_config={"resources": {"store": {"config": {"db_url": fresh_postgres_url}}}}
        )
        assert result.success
        assert instance.get_run_by_id(result.run_id).is_success
        assert len(instance.get_runs()) == 1
    store = Store(fresh_postgres_url)
    with store.connect() as connection:
        assert sync_state.get_datetime(connection, "acme", "heartbeat") is not None
    store.dispose()
