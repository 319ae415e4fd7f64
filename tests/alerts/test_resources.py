"""AlertsResource: channels from its fields, the clock, and loadable definitions."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from omie_pipeline.defs.resources import AlertsResource

from .conftest import NOW


def test_configured_webhooks_are_channels_and_secrets_never_shown() -> None:
    resource = AlertsResource(
        slack_webhook_url="https://hooks.slack.com/services/T1/B2/slack-token",
        webhook_url="https://alerts.example/hook?token=webhook-token",
        dagster_ui_url="https://dagster.example/",
    )
    assert [channel.name for channel in resource.channels()] == ["log", "slack", "webhook"]
    assert resource.ui_url() == "https://dagster.example"
    assert {
        "https://hooks.slack.com/services/T1/B2/slack-token",
        "https://alerts.example/hook?token=webhook-token",
    } <= set(resource.secrets())
    assert "token" not in repr(resource.channels())


def test_without_webhooks_only_the_log_is_on() -> None:
    assert [channel.name for channel in AlertsResource().channels()] == ["log"]


def test_the_clock_is_real_unless_an_evaluation_moment_is_given() -> None:
    assert AlertsResource(evaluate_at=NOW.isoformat()).now() == NOW
    assert AlertsResource().now() > NOW - timedelta(days=3650)


def test_the_project_definitions_hold_the_alert_sensors_and_the_refresh_job() -> None:
    from omie_pipeline.definitions import defs

    dg.Definitions.validate_loadable(defs)
    for name in ("stuck_invoices", "failed_invoices", "alert_redelivery", "sync_run_failures"):
        assert defs.resolve_sensor_def(name).default_status == dg.DefaultSensorStatus.RUNNING
    assert defs.resolve_sensor_def("stuck_invoices").job_name == "invoice_status_refresh_job"
    assert defs.resolve_job_def("invoice_status_refresh_job").partitions_def is not None
