"""Configuration an operator must fix ends a command with one line naming the variable, never a traceback."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from omie_pipeline.cli import main


def _run(tmp_path, args: list[str], **env: str):
    base = {
        "DAGSTER_HOME": str(tmp_path / "home"),
        "OMIE_APP_KEY": "k",
        "OMIE_APP_SECRET": "s3cr3t-value",
        "OMIE_BASE_URL": "http://127.0.0.1:9/api/v1/",
        "SALESOS_DEALS_URL": None,
        "OMIE_PIPELINE_DB_URL": None,
    }
    return CliRunner().invoke(main, args, env={**base, **env})


@pytest.mark.parametrize(
    "db_url, words",
    [
        ("postgresql://reader:hunter22@127.0.0.1:9/crm", "cannot be reached"),
        ("not a url", "is not a database URL"),
    ],
)
@pytest.mark.parametrize("command", [["invoices", "list"], ["sync"]])
def test_a_bad_store_url_is_one_line_naming_the_variable(tmp_path, db_url: str, words: str, command) -> None:
    result = _run(tmp_path, command, OMIE_PIPELINE_DB_URL=db_url, SALESOS_DEALS_URL="deals.csv")

    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert words in result.stderr and "OMIE_PIPELINE_DB_URL" in result.stderr
    assert "hunter22" not in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    "source, words",
    [
        ({"SALESOS_DEALS_URL": "/no/such/deals.csv"}, "deals CSV file /no/such/deals.csv does not exist"),
        (
            {"SALESOS_DEALS_URL": "sqlite:///{tmp}/crm.sqlite", "SALESOS_DEALS_TABLE": "won_deals"},
            "no such table or view",
        ),
        ({"SALESOS_DEALS_URL": "sqlite:///{tmp}/crm.sqlite"}, "SALESOS_DEALS_TABLE"),
    ],
)
def test_sync_stops_before_any_run_when_the_deal_source_cannot_be_read(tmp_path, source: dict, words: str) -> None:
    env = {name: value.format(tmp=tmp_path) for name, value in source.items()}
    result = _run(tmp_path, ["sync"], **env)

    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr
    assert words in result.stderr
    assert not (tmp_path / "home" / "storage").exists(), "no Dagster run may start"
