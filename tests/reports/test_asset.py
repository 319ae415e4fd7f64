"""The reconciliation_report asset through Dagster: metadata, files, checks, the job and its schedule."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from omie_pipeline.definitions import build_definitions
from omie_pipeline.defs.assets.report import (
    CHECK_EVERY_DEAL_ONCE,
    CHECK_NO_STUCK_OR_FAILED,
    CHECK_TOTALS_MATCH_STORE,
    REPORT_DAYS_PARTITION_NAME,
    add_report_days,
    reconciliation_report,
    report_partition_key,
    report_partitions,
    unreported,
)
from omie_pipeline.defs.jobs import report_job
from omie_pipeline.defs.partitions import ACCOUNTS_PARTITION_NAME
from omie_pipeline.defs.resources import PipelineResource, StoreResource
from omie_pipeline.defs.schedules import report_schedule
from omie_pipeline.domain.timeutil import SAO_PAULO
from omie_pipeline.reports.verify import verify_report
from omie_pipeline.settings import load_settings
from omie_pipeline.store.tables import deals, invoices

from .conftest import ACCOUNT, CLOSED, DAY, build
from .test_build import _closed_on_day


@pytest.fixture
def reports_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "reports"
    monkeypatch.setenv("OMIE_PIPELINE_REPORTS_DIR", str(folder))
    monkeypatch.setenv("OMIE_PIPELINE_CLOSED_STATUSES", "won")
    return folder


def _pipeline(reports_dir: Path) -> PipelineResource:
    return PipelineResource(account=ACCOUNT, reports_dir=str(reports_dir), closed_statuses="won")


def _store_figures(store) -> dict[str, float]:
    joined = deals.join(invoices, sa.and_(invoices.c.account == deals.c.account, invoices.c.deal_id == deals.c.deal_id))
    with store.connect() as connection:
        count, amount = connection.execute(
            sa.select(sa.func.count(), sa.func.sum(deals.c.amount)).where(_closed_on_day())
        ).one()
        issued = connection.execute(
            sa.select(sa.func.count(), sa.func.sum(invoices.c.gross_amount), sa.func.sum(invoices.c.net_amount))
            .select_from(joined)
            .where(_closed_on_day(), invoices.c.status == "issued")
        ).one()
    return {
        "deals_closed": count,
        "closed_amount": float(amount),
        "deals_issued": issued[0],
        "issued_amount": float(issued[1]),
        "net_receivable": float(issued[2]),
    }


def test_materialising_a_day_writes_the_files_and_records_plottable_metadata(sqlite_seeded, reports_dir) -> None:
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(ACCOUNTS_PARTITION_NAME, [ACCOUNT])
        add_report_days(instance, [DAY])
        result = dg.materialize(
            [reconciliation_report],
            partition_key=report_partition_key(ACCOUNT, DAY),
            instance=instance,
            resources={"store": StoreResource(db_url=sqlite_seeded.store.url), "pipeline": _pipeline(reports_dir)},
        )
    assert result.success
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    for name, expected in _store_figures(sqlite_seeded.store).items():
        assert metadata[name].value == pytest.approx(expected, abs=0.005), name
    assert metadata["dagster/row_count"].value == metadata["deals_closed"].value
    for name in ("open_amount", "withheld_amount", "invoiced_amount", "tax_iss_issued"):
        assert isinstance(metadata[name].value, float)
    assert "| Status | Deals | Amount |" in metadata["summary"].value
    for name in ("html", "csv", "xlsx", "open_items_html"):
        path = Path(metadata[name].value)
        assert path.is_file() and path.parent == reports_dir / ACCOUNT
    checks = {evaluation.check_name: evaluation for evaluation in result.get_asset_check_evaluations()}
    assert checks[CHECK_EVERY_DEAL_ONCE].passed and checks[CHECK_TOTALS_MATCH_STORE].passed
    stuck = checks[CHECK_NO_STUCK_OR_FAILED]
    assert not stuck.passed and stuck.severity == dg.AssetCheckSeverity.WARN
    # Rejected (D-1006, D-0901) and processing since October (D-0601), whatever the clock says today.
    assert {"D-1006", "D-0901", "D-0601"} <= set(stuck.metadata["deals"].value.split(", "))


def test_verification_catches_a_dropped_deal_and_a_wrong_total(sqlite_seeded) -> None:
    report = build(sqlite_seeded)
    assert verify_report(report, sqlite_seeded.store, CLOSED).every_deal_once
    dropped = replace(report, deals=report.deals[1:])
    assert not verify_report(dropped, sqlite_seeded.store, CLOSED).every_deal_once
    with sqlite_seeded.store.begin() as connection:  # the store changes after the report was built
        connection.execute(invoices.update().where(invoices.c.deal_id == "D-1001").values(gross_amount="12600.00"))
    found = verify_report(report, sqlite_seeded.store, CLOSED)
    assert not found.totals_agree and any(line.startswith("issued gross") for line in found.mismatches)


def test_the_report_job_runs_from_the_project_definitions(sqlite_seeded, reports_dir, monkeypatch) -> None:
    monkeypatch.setenv("OMIE_PIPELINE_DB_URL", sqlite_seeded.store.url)
    defs = build_definitions(load_settings())
    job = defs.resolve_job_def("report_job")
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(ACCOUNTS_PARTITION_NAME, [ACCOUNT])
        add_report_days(instance, [DAY])
        result = job.execute_in_process(instance=instance, partition_key=report_partition_key(ACCOUNT, DAY))
    assert result.success
    assert (reports_dir / ACCOUNT / f"reconciliacao_{ACCOUNT}_{DAY.isoformat()}.xlsx").is_file()


def _repository():
    return dg.Definitions(
        assets=[reconciliation_report],
        jobs=[report_job],
        schedules=[report_schedule],
        resources={"store": StoreResource(db_url="sqlite://"), "pipeline": PipelineResource()},
    ).get_repository_def()


def test_schedule_writes_today_and_yesterdays_final_report_after_close_of_business() -> None:
    assert report_schedule.cron_schedule == "30 18 * * *"
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(ACCOUNTS_PARTITION_NAME, ["acme", "beta"])
        context = dg.build_schedule_context(
            instance=instance,
            repository_def=_repository(),
            scheduled_execution_time=datetime(2026, 11, 26, 18, 30, tzinfo=SAO_PAULO),
        )
        requests = report_schedule.evaluate_tick(context).run_requests
        days = instance.get_dynamic_partitions(REPORT_DAYS_PARTITION_NAME)
        again = report_schedule.evaluate_tick(context).run_requests
        assert instance.get_dynamic_partitions(REPORT_DAYS_PARTITION_NAME) == days
    keys = sorted(str(request.partition_key) for request in requests)
    assert keys == sorted(f"{account}|{day}" for account in ("acme", "beta") for day in ("2026-11-25", "2026-11-26"))
    assert len({request.run_key for request in requests}) == len(requests) == len(again)
    # The two days requested, and only they, are in the report's day dimension, oldest first.
    assert days == ["2026-11-25", "2026-11-26"]


def test_a_day_without_a_report_is_not_a_partition() -> None:
    """The UI lists only days that were reported: no calendar of never-materialised days."""
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(ACCOUNTS_PARTITION_NAME, [ACCOUNT])
        add_report_days(instance, [DAY, DAY.replace(day=3), DAY])
        with dg.partition_loading_context(dynamic_partitions_store=instance):
            keys = report_partitions.get_partition_keys()
    assert keys == [f"{ACCOUNT}|{DAY.replace(day=3).isoformat()}", f"{ACCOUNT}|{DAY.isoformat()}"]


def test_schedule_waits_for_an_account() -> None:
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=datetime(2026, 11, 26, 9, 50, tzinfo=SAO_PAULO)
        )
        result = report_schedule.evaluate_tick(context)
    assert not result.run_requests and "no Omie account" in result.skip_message


def test_unreported_names_the_cells_without_a_report_in_the_latest_days(sqlite_seeded, reports_dir) -> None:
    """What a sync pass fills so the UI's account x day grid has no gap: every registered account,
    the latest registered days, those not yet materialised."""
    earlier, later = DAY.replace(day=3), DAY
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(ACCOUNTS_PARTITION_NAME, [ACCOUNT, "beta"])
        assert add_report_days(instance, [later, earlier]) == [earlier, later]
        assert add_report_days(instance, [later]) == []
        dg.materialize(
            [reconciliation_report],
            partition_key=report_partition_key(ACCOUNT, later),
            instance=instance,
            resources={"store": StoreResource(db_url=sqlite_seeded.store.url), "pipeline": _pipeline(reports_dir)},
        )
        assert unreported(instance, 2) == [(ACCOUNT, earlier), ("beta", earlier), ("beta", later)]
        assert unreported(instance, 1) == [("beta", later)]
