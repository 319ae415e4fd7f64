"""The on-call runbook covers every sensor, every known cause and every run check the code knows."""

from __future__ import annotations

from pathlib import Path

from omie_pipeline.alerts.causes import KNOWN_CAUSES, RUN_CAUSES
from omie_pipeline.defs.sensors import (
    ALERTING_CHECKS,
    alert_redelivery,
    changed_sales,
    failed_invoices,
    stuck_invoices,
    sync_run_failures,
)

RUNBOOK = Path(__file__).resolve().parents[2] / "docs" / "runbook.md"


def test_the_runbook_names_every_sensor_cause_and_command() -> None:
    text = RUNBOOK.read_text(encoding="utf-8")
    for sensor in (stuck_invoices, failed_invoices, changed_sales, sync_run_failures, alert_redelivery):
        assert f"`{sensor.name}`" in text
    for check_key in ALERTING_CHECKS:
        assert f"`{check_key.name}`" in text, check_key.name
    for cause in (*KNOWN_CAUSES, *RUN_CAUSES):
        assert f"`{cause.code}`" in text, cause.code
    for command in (
        "invoices show <DEAL_ID>",
        "invoices wait <DEAL_ID>",
        "invoices retry <DEAL_ID>",
        'invoices cancel <DEAL_ID> --reason "..."',
    ):
        assert f"omie-pipeline {command}" in text
