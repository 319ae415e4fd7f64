"""AlertsResource: channels from the environment, the clock, and loadable definitions."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from omie_pipeline.defs.alert_resources import AlertsResource

from .conftest import NOW


def test_channels_come_from_the_environment_when_not_configured(monkeypatch) -> None:
    monkeypatch.setenv("OMIE_PIPELINE_SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T1/B2/slack-token")
    monkeypatch.setenv("OMIE_PIPELINE_ALERT_WEBHOOK_URL", "https://alerts.example/hook?token=webhook-token")
    monkeypatch.setenv("OMIE_PIPELINE_STUCK_AFTER_MINUTES", "45")
    monkeypatch.setenv("OMIE_PIPELINE_DAGSTER_UI_URL", "https://dagster.example/")
    resource = AlertsResource()
    assert [channel.name for channel in resource.channels()] == ["log", "slack", "webhook"]
    assert resource.stuck_threshold() == timedelta(minutes=45)
    assert resource.ui_url() == "https://dagster.example"
    assert {"https://hooks.slack.com/services/T1/B2/slack-token",
            "https://alerts.example/hook?token=webhook-token"} <= set(resource.secrets())
    assert "token" not in repr(resource.channels())


def test_without_webhooks_only_the_log_is_on(monkeypatch) -> None:
    monkeypatch.delenv("OMIE_PIPELINE_SLACK_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("OMIE_PIPELINE_ALERT_WEBHOOK_URL", raising=False)
    resource = AlertsResource(stuck_after_minutes=10)
    assert [channel.name for channel in resource.channels()] == ["log"]
    assert resource.stuck_threshold() == timedelta(minutes=10)


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
