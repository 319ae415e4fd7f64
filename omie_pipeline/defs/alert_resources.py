"""The alert channels and their limits, as one Dagster resource configured from the environment.

Webhook URLs are secrets: leave `slack_webhook_url` / `webhook_url` empty in code so that they are
read from OMIE_PIPELINE_SLACK_WEBHOOK_URL / OMIE_PIPELINE_ALERT_WEBHOOK_URL inside the process and
never appear in the resource's config shown by the Dagster UI.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import dagster as dg
from pydantic import Field

from omie_pipeline.alerts.channels import AlertChannel, LogChannel, SlackChannel, WebhookChannel
from omie_pipeline.alerts.delivery import DeliveryPolicy, DeliveryRound
from omie_pipeline.domain.timeutil import now_utc, parse_iso_datetime
from omie_pipeline.settings import load_settings


class AlertsResource(dg.ConfigurableResource):
    """Alert channels (log always; Slack and a JSON webhook when configured) and the alert rules' knobs."""

    slack_webhook_url: str = Field("", description="Empty: OMIE_PIPELINE_SLACK_WEBHOOK_URL (unset = no Slack).")
    webhook_url: str = Field("", description="Empty: OMIE_PIPELINE_ALERT_WEBHOOK_URL (unset = no webhook).")
    dagster_ui_url: str = Field("", description="Base URL for run links. Empty: OMIE_PIPELINE_DAGSTER_UI_URL.")
    stuck_after_minutes: int = Field(0, ge=0, description="0: OMIE_PIPELINE_STUCK_AFTER_MINUTES (default 30).")
    connect_timeout_seconds: float = Field(3.0, gt=0)
    read_timeout_seconds: float = Field(5.0, gt=0)
    tries_per_evaluation: int = Field(2, ge=1, description="Tries of one channel for one alert per evaluation.")
    retry_pause_seconds: float = Field(0.5, ge=0)
    max_attempts: int = Field(5, ge=1, description="Evaluations that try an alert before it is given up.")
    evaluation_budget_seconds: float = Field(40.0, gt=0, description="After this, only the log is tried.")
    redelivery_grace_seconds: float = Field(120.0, ge=0, description="Age before a pending alert is retried.")
    failed_lookback_hours: float = Field(168.0, gt=0, description="How far back invoices in error are looked at.")
    evaluate_at: str = Field("", description="For drills and tests: evaluate as of this ISO 8601 moment.")

    def now(self) -> datetime:
        return parse_iso_datetime(self.evaluate_at) if self.evaluate_at else now_utc()

    def stuck_threshold(self) -> timedelta:
        return timedelta(minutes=self.stuck_after_minutes or load_settings().omie_pipeline_stuck_after_minutes)

    def ui_url(self) -> str:
        return (self.dagster_ui_url or load_settings().omie_pipeline_dagster_ui_url).rstrip("/")

    def policy(self) -> DeliveryPolicy:
        return DeliveryPolicy(tries_per_round=self.tries_per_evaluation, retry_pause_seconds=self.retry_pause_seconds,
                              max_attempts=self.max_attempts, round_budget_seconds=self.evaluation_budget_seconds)

    def _urls(self) -> tuple[str, str]:
        settings = load_settings()

        def secret(value) -> str:
            return value.get_secret_value() if value is not None else ""

        return (self.slack_webhook_url or secret(settings.omie_pipeline_slack_webhook_url),
                self.webhook_url or secret(settings.omie_pipeline_alert_webhook_url))

    def channels(self) -> list[AlertChannel]:
        slack_url, webhook_url = self._urls()
        timeouts = {"connect_timeout": self.connect_timeout_seconds, "read_timeout": self.read_timeout_seconds}
        channels: list[AlertChannel] = [LogChannel()]
        if slack_url:
            channels.append(SlackChannel(slack_url, **timeouts))
        if webhook_url:
            channels.append(WebhookChannel(webhook_url, **timeouts))
        return channels

    def delivery_round(self) -> DeliveryRound:
        """A fresh round for one sensor evaluation."""
        return DeliveryRound(self.channels(), self.policy())

    def secrets(self) -> list[str]:
        """Values that must never appear in an alert (scrubbed out of run errors)."""
        settings = load_settings()
        values = [*self._urls()]
        if settings.omie_app_secret is not None:
            values.append(settings.omie_app_secret.get_secret_value())
        return [value for value in values if value]
