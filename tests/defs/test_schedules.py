"""Cadences per account, and the emitting-run tag that dagster.yaml limits."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import yaml

from omie_pipeline.definitions import defs
from omie_pipeline.defs.partitions import ACCOUNTS_PARTITION_NAME
from omie_pipeline.defs.schedules import catalog_schedule, emission_schedule, status_refresh_schedule

REPO = Path(__file__).resolve().parents[2]
TICK = datetime(2026, 11, 26, 10, 15, tzinfo=ZoneInfo("America/Sao_Paulo"))


def _evaluate(schedule: dg.ScheduleDefinition, instance: dg.DagsterInstance):
    # Closed as the daemon closes it: the context opens an instance of its own (from `instance`'s ref),
    # which left open would stay Dagster's current one after `instance` is gone.
    with dg.build_schedule_context(
        instance=instance, scheduled_execution_time=TICK, repository_def=defs.get_repository_def()
    ) as context:
        return schedule.evaluate_tick(context)


def test_cadences_are_in_sao_paulo_time_and_on_by_default() -> None:
    expected = {
        "emission_schedule": "*/15 * * * *",
        "status_refresh_schedule": "*/5 * * * *",
        "catalog_schedule": "0 6 * * *",
        "report_schedule": "30 18 * * *",
    }
    schedules = {schedule.name: schedule for schedule in defs.schedules}
    for name, cron in expected.items():
        assert schedules[name].cron_schedule == cron
        assert schedules[name].execution_timezone == "America/Sao_Paulo"
        assert schedules[name].default_status == dg.DefaultScheduleStatus.RUNNING


def test_each_tick_requests_one_run_per_account() -> None:
    with dg.instance_for_test() as instance:
        assert "no Omie account" in _evaluate(emission_schedule, instance).skip_message
        instance.add_dynamic_partitions(ACCOUNTS_PARTITION_NAME, ["acme", "beta"])
        emission = _evaluate(emission_schedule, instance).run_requests
        refresh = _evaluate(status_refresh_schedule, instance).run_requests
        catalog = _evaluate(catalog_schedule, instance).run_requests
    assert sorted(request.partition_key for request in emission) == ["acme", "beta"]
    assert len({request.run_key for request in emission}) == 2
    assert sorted(request.partition_key for request in refresh + catalog) == ["acme", "acme", "beta", "beta"]


def test_the_instance_allows_one_run_per_account_however_launched() -> None:
    """Every run of a partitioned job carries its run slot (job kind and account), from a schedule, the
    UI or a backfill; the instance allows one run per slot."""
    for name in ("dagster.yaml", "dagster.postgres.yaml"):
        limits = yaml.safe_load((REPO / "dagster_home" / name).read_text())["concurrency"]["runs"][
            "tag_concurrency_limits"
        ]
        assert {"key": "omie_pipeline/run_slot", "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in limits


def test_every_run_of_a_partitioned_job_carries_its_slot_so_refresh_runs_beside_emission() -> None:
    from omie_pipeline.definitions import defs

    slots = {
        name: defs.resolve_job_def(name).partitioned_config.get_tags_for_partition_key(key)["omie_pipeline/run_slot"]
        for name, key in (
            ("emission_job", "acme"),
            ("invoice_status_refresh_job", "acme"),
            ("catalog_job", "acme"),
            ("report_job", "acme|2026-12-04"),
        )
    }

    assert slots == {
        "emission_job": "emission:acme",
        "invoice_status_refresh_job": "status:acme",
        "catalog_job": "catalog:acme",
        "report_job": "report:acme",
    }


def test_emission_cadence_is_the_deployments_choice() -> None:
    from omie_pipeline.definitions import build_definitions
    from omie_pipeline.settings import SettingsError, load_settings

    every_minute = build_definitions(load_settings({"OMIE_PIPELINE_EMISSION_CRON": "* * * * *"}))
    schedules = {schedule.name: schedule.cron_schedule for schedule in every_minute.schedules}
    assert schedules["emission_schedule"] == "* * * * *"
    assert schedules["status_refresh_schedule"] == "*/5 * * * *"
    try:
        load_settings({"OMIE_PIPELINE_EMISSION_CRON": "every 5 minutes"})
    except SettingsError as error:
        assert "OMIE_PIPELINE_EMISSION_CRON" in str(error)
    else:
        raise AssertionError("a cadence that is not cron was accepted")
