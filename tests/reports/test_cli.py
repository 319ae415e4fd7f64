"""`omie-pipeline report`: builds the day's files from the store, or prints a written report."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from omie_pipeline.cli import main
from omie_pipeline.i18n import format_money

from .conftest import ACCOUNT, DAY, build


@pytest.fixture
def env(sqlite_seeded, tmp_path) -> dict[str, str]:
    return {
        "OMIE_PIPELINE_DB_URL": sqlite_seeded.store.url,
        "OMIE_PIPELINE_REPORTS_DIR": str(tmp_path / "reports"),
        "OMIE_PIPELINE_ACCOUNT": ACCOUNT,
        "OMIE_PIPELINE_CLOSED_STATUSES": "won",
        "DAGSTER_HOME": str(tmp_path),
    }


def test_report_for_a_date_writes_the_files_and_prints_the_summary(env, sqlite_seeded, tmp_path) -> None:
    result = CliRunner().invoke(main, ["report", "--date", "20/11/2026"], env=env)
    assert result.exit_code == 0, result.output
    folder = tmp_path / "reports" / ACCOUNT
    for suffix in ("html", "csv", "xlsx"):
        path = folder / f"reconciliacao_{ACCOUNT}_{DAY.isoformat()}.{suffix}"
        assert path.is_file() and f"file: {path}" in result.output
    expected = build(sqlite_seeded).summary
    assert "closed on Nov 20, 2026" in result.output
    assert (
        format_money(expected.issued_amount) in result.output and format_money(expected.closed_amount) in result.output
    )
    assert "Issued (valid NFS-e)" in result.output and "rejected" in result.output


def test_open_prints_a_written_report_from_its_file(env, sqlite_seeded, tmp_path) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["report", "--date", DAY.isoformat()], env=env).exit_code == 0
    summary = build(sqlite_seeded).summary
    for suffix in ("csv", "xlsx"):
        path = tmp_path / "reports" / ACCOUNT / f"reconciliacao_{ACCOUNT}_{DAY.isoformat()}.{suffix}"
        shown = runner.invoke(main, ["report", "--open", str(path)], env=env)
        assert shown.exit_code == 0, shown.output
        assert f"{summary.closed_count} deals" in shown.output
        issued_line = next(line for line in shown.output.splitlines() if line.strip().startswith("Issued"))
        assert format_money(summary.issued_amount) in issued_line and format_money(summary.net_issued) in issued_line


def test_open_refuses_a_file_that_is_not_a_report(env, tmp_path) -> None:
    stray = tmp_path / "notes.csv"
    stray.write_text("a;b\n1;2\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["report", "--open", str(stray)], env=env)
    assert result.exit_code == 2 and "not a reconciliation report" in result.output


def test_date_and_all_days_together_are_refused(env) -> None:
    result = CliRunner().invoke(main, ["report", "--date", "2026-11-20", "--all-days"], env=env)
    assert result.exit_code == 2 and "not both" in result.output


def test_all_days_names_its_files_accordingly(env, tmp_path) -> None:
    result = CliRunner().invoke(main, ["report", "--all-days"], env=env)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "reports" / ACCOUNT / f"reconciliacao_{ACCOUNT}_todas-as-datas.xlsx").is_file()
    assert "every day" in result.output


def test_without_a_date_the_last_day_with_deals_is_reported_and_named(env, sqlite_seeded, tmp_path) -> None:
    from omie_pipeline.store.report_queries import closing_days

    with sqlite_seeded.store.connect() as connection:
        last = closing_days(connection, ACCOUNT)[-1]
    result = CliRunner().invoke(main, ["report"], env={**env, "OMIE_PIPELINE_LANGUAGE": "pt-BR"})
    assert result.exit_code == 0, result.output
    assert f"sem --date: relatório de {last:%d/%m/%Y}, o último dia com negócios fechados" in result.output
    assert (tmp_path / "reports" / ACCOUNT / f"reconciliacao_{ACCOUNT}_{last.isoformat()}.csv").is_file()
    assert f"fechados em {last:%d/%m/%Y}" in result.output
