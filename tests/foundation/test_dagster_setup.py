"""The Dagster definitions load, the instance configs parse, and a job runs on PostgreSQL storage."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import yaml

from omie_pipeline.defs.resources import StoreResource
from omie_pipeline.definitions import defs
from omie_pipeline.store import Store, sync_state

REPO = Path(__file__).resolve().parents[2]


def test_definitions_are_loadable() -> None:
    dg.Definitions.validate_loadable(defs)


def test_workspace_validates_with_the_dagster_cli(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(Path(sys.executable).with_name("dagster")), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO, env={"DAGSTER_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=180,
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
        sync_state.set_datetime(connection, "acme", "heartbeat", datetime.now(timezone.utc))
    return "ok"


@dg.job(resource_defs={"store": StoreResource.configure_at_launch()})
def heartbeat_job() -> None:
    record_heartbeat()


def test_a_job_runs_on_an_instance_with_postgresql_storage(tmp_path: Path, fresh_postgres_url: str,
                                                          monkeypatch) -> None:
    home = tmp_path / "pg_home"
    home.mkdir()
    shutil.copy(REPO / "dagster_home" / "dagster.postgres.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_PG_URL", fresh_postgres_url.replace("+psycopg2", ""))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        result = heartbeat_job.execute_in_process(
            instance=instance, run_config={"resources": {"store": {"config": {"db_url": fresh_postgres_url}}}})
        assert result.success
        assert instance.get_run_by_id(result.run_id).is_success
        assert len(instance.get_runs()) == 1
    store = Store(fresh_postgres_url)
    with store.connect() as connection:
        assert sync_state.get_datetime(connection, "acme", "heartbeat") is not None
    store.dispose()
