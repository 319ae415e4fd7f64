"""Freshness checks run by `freshness_checks_job` against a real instance, and their alert."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
import sqlalchemy as sa

from omie_pipeline.defs.checks.freshness import FRESHNESS_CHECKS
from omie_pipeline.defs.jobs import freshness_checks_job
from omie_pipeline.defs.partitions import accounts
from omie_pipeline.defs.resources import AlertsResource, PipelineResource, StoreResource
from omie_pipeline.defs.sensors import failed_checks
from omie_pipeline.store import Store
from omie_pipeline.store.tables import invoices

from .conftest import place_invoice

UI_URL = "http://dagster.test:3000"


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as test_instance:
        test_instance.add_dynamic_partitions("omie_account", ["acme"])
        yield test_instance


def _resources(store: Store, at: datetime, *receivers) -> dict[str, object]:
    return {
        "store": StoreResource(db_url=store.url),
        "pipeline": PipelineResource(account="acme"),
        "alerts": AlertsResource(
            evaluate_at=at.isoformat(),
            dagster_ui_url=UI_URL,
            retry_pause_seconds=0,
            read_timeout_seconds=1.0,
            webhook_url=receivers[0].url if receivers else "",
        ),
    }


def _run_freshness(instance: dg.DagsterInstance, store: Store, at: datetime) -> dict[str, dg.AssetCheckEvaluation]:
    """One run of the project's freshness job for `acme`, as its schedule launches it, evaluated at `at`."""
    defs = dg.Definitions(
        # The refreshing assets as specs: this job never runs them.
        assets=[
            dg.AssetSpec(name, partitions_def=accounts) for name in ("nfse_status", "service_catalog", "tax_rates")
        ],
        asset_checks=FRESHNESS_CHECKS,
        jobs=[freshness_checks_job],
        resources=_resources(store, at),
    )
    result = defs.resolve_job_def("freshness_checks_job").execute_in_process(instance=instance, partition_key="acme")
    assert result.success
    assert not result.get_asset_materialization_events()  # checks only: nothing is refreshed by this job
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def _refreshed(instance: dg.DagsterInstance, *assets: str) -> datetime:
    for asset in assets:
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=asset, partition="acme"))
    return datetime.now(UTC)


def test_stale_statuses_with_an_open_invoice_fail_and_alert_once(store: Store, instance, webhook) -> None:
    refreshed = _refreshed(instance, "nfse_status", "service_catalog", "tax_rates")
    place_invoice(store, "D-1", "processing", changed_at=refreshed - timedelta(minutes=30))

    fresh = _run_freshness(instance, store, refreshed + timedelta(minutes=14))
    assert fresh["nfse_status_fresh"].passed
    assert isinstance(_alert(instance, store, refreshed, webhook), dg.SkipReason)
    assert webhook.delivered == []

    stale_at = refreshed + timedelta(minutes=16)
    stale = _run_freshness(instance, store, stale_at)
    check = stale["nfse_status_fresh"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert "the status of 1 open invoice" in check.description and "older than 15 min" in check.description
    assert stale["service_catalog_fresh"].passed and stale["tax_rates_fresh"].passed

    _alert(instance, store, stale_at, webhook)
    [alert] = webhook.delivered
    assert alert["kind"] == "check_failed"
    assert alert["subject"] == "[omie-pipeline] Check failed: nfse_status_fresh (account acme)"
    assert alert["commands"] == ["omie-pipeline invoices list"]
    assert alert["run_url"].startswith(f"{UI_URL}/runs/")

    _run_freshness(instance, store, stale_at + timedelta(minutes=5))  # still stale: the same streak
    _alert(instance, store, stale_at + timedelta(minutes=5), webhook)
    assert len(webhook.delivered) == 1


def test_stale_statuses_pass_when_no_invoice_is_open(store: Store, instance) -> None:
    refreshed = _refreshed(instance, "nfse_status")
    place_invoice(store, "D-1", "issued", changed_at=refreshed - timedelta(hours=3))

    check = _run_freshness(instance, store, refreshed + timedelta(days=3))["nfse_status_fresh"]

    assert check.passed and check.description == "no invoice waiting on Omie: nothing to refresh"


def test_a_pending_cancellation_keeps_statuses_under_watch(store: Store, instance) -> None:
    refreshed = _refreshed(instance, "nfse_status")
    place_invoice(store, "D-1", "issued", changed_at=refreshed - timedelta(hours=3))
    with store.begin() as connection:
        connection.execute(sa.update(invoices).values(cancel_requested_at=refreshed - timedelta(hours=1)))

    assert not _run_freshness(instance, store, refreshed + timedelta(minutes=20))["nfse_status_fresh"].passed


def test_statuses_never_refreshed_with_an_open_invoice_fail(store: Store, instance) -> None:
    place_invoice(store, "D-1", "submitted", changed_at=datetime.now(UTC))

    check = _run_freshness(instance, store, datetime.now(UTC))["nfse_status_fresh"]

    assert not check.passed and "never refreshed" in check.description


def test_catalog_and_tax_rates_older_than_26_hours_fail(store: Store, instance) -> None:
    refreshed = _refreshed(instance, "service_catalog", "tax_rates")

    day_later = _run_freshness(instance, store, refreshed + timedelta(hours=25, minutes=59))
    assert day_later["service_catalog_fresh"].passed and day_later["tax_rates_fresh"].passed

    late = _run_freshness(instance, store, refreshed + timedelta(hours=26, minutes=1))
    assert not late["service_catalog_fresh"].passed and not late["tax_rates_fresh"].passed
    assert "older than 1 d 2 h" in late["tax_rates_fresh"].description


def _alert(instance: dg.DagsterInstance, store: Store, at: datetime, *receivers):
    """One evaluation of the `failed_checks` sensor at `at`."""
    with dg.build_sensor_context(instance=instance, resources=_resources(store, at, *receivers)) as context:
        return failed_checks(context)
