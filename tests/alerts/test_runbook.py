"""The on-call runbook covers every sensor, every known cause and every run check the code knows, and
each alert's link lands on a section that names the command the alert puts first."""

from __future__ import annotations

import re
from pathlib import Path

from omie_pipeline.alerts.causes import KNOWN_CAUSES, RUN_CAUSES
from omie_pipeline.alerts.messages import RUNBOOK_SECTIONS, invoice_commands
from omie_pipeline.defs.sensors import (
    ALERTING_CHECKS,
    alert_redelivery,
    changed_sales,
    failed_invoices,
    stuck_invoices,
    sync_run_failures,
)

RUNBOOK = Path(__file__).resolve().parents[2] / "docs" / "runbook.md"


def _sections(text: str) -> dict[str, str]:
    """Each `<a id="...">` anchor with the text up to the next anchor."""
    parts = re.split(r'<a id="([a-z-]+)"></a>', text)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


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


def test_every_alert_links_a_section_that_names_its_first_command() -> None:
    sections = _sections(RUNBOOK.read_text(encoding="utf-8"))
    assert set(RUNBOOK_SECTIONS.values()) <= set(sections)
    first = {
        "stuck": invoice_commands("<DEAL_ID>", first="wait")[0],
        "failed": invoice_commands("<DEAL_ID>")[0],
        "run_failed": "omie-pipeline check-connection",
        "sale_changed": invoice_commands("<DEAL_ID>")[0],
    }
    for kind, command in first.items():
        assert f"**Comando:** `{command}`" in sections[RUNBOOK_SECTIONS[kind]], kind
    for check_key, command in ALERTING_CHECKS.items():
        stale = check_key.name.endswith("_fresh")
        section = sections[RUNBOOK_SECTIONS["stale" if stale else "check_failed"]]
        assert f"`{check_key.name}`" in section and f"`{command}`" in section, check_key.name


def test_the_runbook_is_written_in_portuguese() -> None:
    headings = re.findall(r"^## (.+)$", RUNBOOK.read_text(encoding="utf-8"), re.MULTILINE)
    assert headings[:6] == [
        "Nota parada",
        "Nota recusada",
        "Venda alterada depois da NFS-e",
        "Run com falha",
        "Verificações com falha",
        "Dados desatualizados",
    ]
