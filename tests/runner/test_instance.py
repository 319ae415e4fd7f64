"""A sync runs only on an instance that holds back a second emitting run of one account."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from omie_pipeline.cli import main
from omie_pipeline.runner.instance import (
    INSTANCE_TEMPLATE,
    InstanceConfigError,
    limits_one_run_per_account,
    prepare_instance,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DEALS = PROJECT_ROOT / "omie_pipeline" / "sample_data" / "deals.csv"


@pytest.mark.parametrize("name", ["dagster.yaml", "dagster.postgres.yaml"])
def test_the_projects_instance_files_limit_one_run_per_account(name: str) -> None:
    assert limits_one_run_per_account(yaml.safe_load((PROJECT_ROOT / "dagster_home" / name).read_text()))


def test_a_new_home_gets_the_projects_instance_file_and_is_told_so(tmp_path) -> None:
    home = tmp_path / "new-home"
    said = prepare_instance(home)

    assert (home / "dagster.yaml").read_text() == INSTANCE_TEMPLATE.read_text()
    assert said.startswith(f"wrote {home / 'dagster.yaml'}") and "one run at a time per account" in said
    assert prepare_instance(home) is None  # the second time there is nothing to do


@pytest.mark.parametrize(
    "content",
    [
        "telemetry:\n  enabled: false\n",
        "concurrency:\n  runs:\n    tag_concurrency_limits:\n      - key: dagster/partition\n        limit: 2\n",
        "concurrency: [\n",
    ],
)
def test_an_instance_file_without_the_limit_is_refused_and_left_as_written(tmp_path, content: str) -> None:
    (tmp_path / "dagster.yaml").write_text(content)

    with pytest.raises(InstanceConfigError, match="dagster.yaml"):
        prepare_instance(tmp_path)
    assert (tmp_path / "dagster.yaml").read_text() == content


def test_the_limit_may_sit_in_the_queued_run_coordinators_settings() -> None:
    config = {
        "run_coordinator": {
            "module": "dagster.core.run_coordinator",
            "class": "QueuedRunCoordinator",
            "config": {
                "tag_concurrency_limits": [
                    {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
                ]
            },
        }
    }
    assert limits_one_run_per_account(config)


def test_sync_on_an_instance_without_the_limit_stops_with_one_line(tmp_path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {
        "DAGSTER_HOME": str(home),
        "OMIE_APP_KEY": "k",
        "OMIE_APP_SECRET": "s",
        "OMIE_PIPELINE_DB_URL": None,
        "SALESOS_DEALS_URL": str(SAMPLE_DEALS),
        "OMIE_BASE_URL": "http://127.0.0.1:9/api/v1/",
    }
    result = CliRunner().invoke(main, ["sync"], env=env)

    assert result.exit_code == 2
    assert "does not limit runs to one at a time per account" in result.stderr
    assert "Traceback" not in result.output and not (home / "storage").exists()


def test_invoices_list_on_a_mistyped_home_says_the_store_is_new(tmp_path) -> None:
    env = {"DAGSTER_HOME": str(tmp_path / "mistyped"), "OMIE_PIPELINE_DB_URL": None}
    result = CliRunner().invoke(main, ["invoices", "list"], env=env)

    assert result.exit_code == 1
    assert "is new: nothing has been synced into it yet" in result.stderr
    assert "DAGSTER_HOME" in result.stderr
