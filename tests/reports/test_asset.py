"""The reconciliation_report asset through Dagster: metadata, files, checks, the job and its schedule."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
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
    report_key_ranges,
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


def _schedule_tick(instance: dg.DagsterInstance) -> list[dg.RunRequest]:
    # Closed, so that the instance the context opens from `instance`'s ref does not outlive the test.
    with dg.build_schedule_context(
        instance=instance,
        repository_def=_repository(),
        scheduled_execution_time=datetime(2026, 11, 26, 18, 30, tzinfo=SAO_PAULO),
    ) as context:
        return report_schedule.evaluate_tick(context).run_requests


def _ranges(requests: list[dg.RunRequest]) -> list[tuple[str, str, str]]:
    return sorted(
        (request.partition_key_range.start, request.partition_key_range.end, request.tags["omie_pipeline/run_slot"])
        for request in requests
    )


def test_schedule_writes_today_and_yesterdays_final_report_after_close_of_business() -> None:
    """One run per account writes both days (a range of the day dimension), in the account's run slot."""
    assert report_schedule.cron_schedule == "30 18 * * *"
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(ACCOUNTS_PARTITION_NAME, ["acme", "beta"])
        requests = _schedule_tick(instance)
        days = instance.get_dynamic_partitions(REPORT_DAYS_PARTITION_NAME)
        again = _schedule_tick(instance)
        assert instance.get_dynamic_partitions(REPORT_DAYS_PARTITION_NAME) == days
    assert all(request.partition_key is None for request in requests)
    assert _ranges(requests) == [
        ("acme|2026-11-25", "acme|2026-11-26", "report:acme"),
        ("beta|2026-11-25", "beta|2026-11-26", "report:beta"),
    ]
    assert len({request.run_key for request in requests}) == len(requests) == len(again)
    # The two days requested, and only they, are in the report's day dimension, oldest first.
    assert days == ["2026-11-25", "2026-11-26"]


def test_schedule_writes_each_day_apart_when_others_lie_between_them_in_the_day_dimension() -> None:
    """A range covers every day between its ends in the dimension's order: yesterday added long before today
    is written by a run of its own, and the days between are not written again."""
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(ACCOUNTS_PARTITION_NAME, ["acme"])
        instance.add_dynamic_partitions(REPORT_DAYS_PARTITION_NAME, ["2026-11-25", "2026-11-20"])
        requests = _schedule_tick(instance)
    assert _ranges(requests) == [
        ("acme|2026-11-25", "acme|2026-11-25", "report:acme"),
        ("acme|2026-11-26", "acme|2026-11-26", "report:acme"),
    ]


def test_a_day_without_a_report_is_not_a_partition() -> None:
    """The UI lists only days that were reported: no calendar of never-materialised days."""
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(ACCOUNTS_PARTITION_NAME, [ACCOUNT])
        add_report_days(instance, [DAY, DAY.replace(day=3), DAY])
        with dg.partition_loading_context(dynamic_partitions_store=instance):
            keys = report_partitions.get_partition_keys()
    assert keys == [f"{ACCOUNT}|{DAY.replace(day=3).isoformat()}", f"{ACCOUNT}|{DAY.isoformat()}"]


def test_schedule_waits_for_an_account() -> None:
    with (
        dg.instance_for_test() as instance,
        dg.build_schedule_context(
            instance=instance, scheduled_execution_time=datetime(2026, 11, 26, 9, 50, tzinfo=SAO_PAULO)
        ) as context,
    ):
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


def test_one_run_writes_a_range_of_days_each_its_own_materialisation(sqlite_seeded, reports_dir, monkeypatch) -> None:
    """A run over a range of one account's days: each day materialised with its own figures, its files written,
    the checks evaluated over every day, in the account's run slot."""
    from omie_pipeline.defs.jobs import report_range_tags

    monkeypatch.setenv("OMIE_PIPELINE_DB_URL", sqlite_seeded.store.url)
    days = [date(2026, 11, 18), date(2026, 11, 19), DAY]
    with dg.instance_for_test() as instance:
        job = build_definitions(load_settings()).resolve_job_def("report_job")
        instance.add_dynamic_partitions(ACCOUNTS_PARTITION_NAME, [ACCOUNT, "beta"])
        add_report_days(instance, days)
        (key_range,) = report_key_ranges(instance, [(ACCOUNT, day) for day in days])
        result = job.execute_in_process(instance=instance, tags=report_range_tags(key_range))
        materialised = instance.get_materialized_partitions(dg.AssetKey("reconciliation_report"))
        run = instance.get_run_by_id(result.run_id)
    assert result.success and run.tags["omie_pipeline/run_slot"] == f"report:{ACCOUNT}"
    assert materialised == {str(report_partition_key(ACCOUNT, day)) for day in days}
    events = {event.partition: event.materialization.metadata for event in result.get_asset_materialization_events()}
    for day in days:
        alone = build(sqlite_seeded, day)
        metadata = events[str(report_partition_key(ACCOUNT, day))]
        assert metadata["deals_closed"].value == alone.summary.closed_count
        assert metadata["closed_amount"].value == pytest.approx(float(alone.summary.closed_amount))
        assert Path(metadata["xlsx"].value) == reports_dir / ACCOUNT / f"reconciliacao_{ACCOUNT}_{day.isoformat()}.xlsx"
        assert Path(metadata["xlsx"].value).is_file()
    assert len({metadata["deals_closed"].value for metadata in events.values()}) > 1
    checks = {evaluation.check_name: evaluation for evaluation in result.get_asset_check_evaluations()}
    assert len(result.get_asset_check_evaluations()) == 3
    assert checks[CHECK_EVERY_DEAL_ONCE].passed and checks[CHECK_EVERY_DEAL_ONCE].metadata["days"].value == 3
    assert checks[CHECK_EVERY_DEAL_ONCE].metadata["deals_in_store"].value == sum(
        len(build(sqlite_seeded, day).deals) for day in days
    )


def test_a_check_over_several_days_names_the_day_that_fails(sqlite_seeded) -> None:
    from omie_pipeline.defs.assets.report import check_results

    good, bad = build(sqlite_seeded, date(2026, 11, 18)), build(sqlite_seeded)
    checked = [
        (good, verify_report(good, sqlite_seeded.store, CLOSED)),
        (bad, verify_report(replace(bad, deals=bad.deals[1:]), sqlite_seeded.store, CLOSED)),
    ]
    once = next(result for result in check_results(checked) if result.check_name == CHECK_EVERY_DEAL_ONCE)
    assert not once.passed and once.metadata["days_failing"].value == f"{ACCOUNT} {DAY.isoformat()}"
