"""Alert text: what happened, which deal/client/invoice, since when, what to check, which command."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from omie_pipeline.alerts.messages import (
    failed_alert,
    run_failure_alert,
    stuck_alert,
    stuck_level,
)
from omie_pipeline.alerts.model import Alert
from omie_pipeline.alerts.text import format_duration, scrub

from .conftest import CPF, CPF_DIGITS, MASKED_CPF, NOW, invoice_facts, run_facts

THRESHOLD = timedelta(minutes=30)


@pytest.mark.parametrize(
    ("minutes", "level"),
    [
        (0, 0),
        (29.99, 0),
        (30, 1),
        (59.99, 1),
        (60, 2),
        (119.99, 2),
        (120, 3),
        (1000, 3),
    ],
)
def test_levels_start_exactly_at_1x_2x_and_4x_the_threshold(minutes: float, level: int) -> None:
    assert stuck_level(timedelta(minutes=minutes), THRESHOLD) == level


def test_a_stuck_alert_says_what_which_since_when_what_to_check_and_the_commands() -> None:
    alert = stuck_alert(invoice_facts(), 2, THRESHOLD, NOW, home_account="acme")
    text = alert.text
    assert alert.key == "stuck:D-1:20261120T165500Z:2"
    assert "deal D-1" in alert.subject and "level 2/3" in alert.subject and "1 h 05 min" in alert.subject
    # 16:55 UTC is 13:55 in São Paulo (written as English speakers do; pt-BR: tests/alerts/test_language.py).
    assert "since Nov 20, 2026, 1:55 PM" in text
    assert f"Maria Souza, {MASKED_CPF}" in text
    assert "OS 000123" in text and "RPS status 002" in text and "R$1,234.50" in text
    assert "Last checked in Omie: Nov 20, 2026, 2:57 PM" in text
    for topic in ("Prefeitura delays or downtime", "credentials", "blocked account", "service code", "client's data"):
        assert topic in text
    # Re-checking is what resolves a stuck invoice: that command comes first.
    assert alert.commands == (
        "omie-pipeline invoices wait D-1",
        "omie-pipeline invoices show D-1",
        'omie-pipeline invoices cancel D-1 --reason "..."',
    )
    assert alert.command == "omie-pipeline invoices wait D-1"
    assert "Runbook: docs/runbook.md#invoice-stuck" in text
    assert CPF not in text and CPF_DIGITS not in text


def test_an_intent_that_never_reached_omie_points_at_the_send_not_the_prefeitura() -> None:
    facts = invoice_facts(
        status="submitted",
        submitted_at=None,
        omie_os_id=None,
        os_number=None,
        rps_status=None,
        since=NOW - timedelta(minutes=31),
    )
    alert = stuck_alert(facts, 1, THRESHOLD, NOW)
    assert "not yet accepted by Omie" in alert.summary
    assert "no OS in Omie yet" in alert.text
    assert alert.next_steps[0].startswith("Omie credentials or a blocked account")


def test_the_last_level_suggests_escalating_or_cancelling() -> None:
    assert not any("4x" in step for step in stuck_alert(invoice_facts(), 2, THRESHOLD, NOW).next_steps)
    last = stuck_alert(invoice_facts(since=NOW - timedelta(hours=3)), 3, THRESHOLD, NOW, home_account="acme")
    assert "the last reminder" in last.summary
    assert any(
        "contact the prefeitura or Omie support" in step and "invoices cancel D-1" in step for step in last.next_steps
    )


def test_a_failed_alert_quotes_omie_with_cpfs_masked_and_gives_the_cause_and_fix() -> None:
    message = f"E0116 Município do tomador não corresponde ao CEP informado (tomador CPF {CPF})."
    alert = failed_alert(
        invoice_facts(status="error", status_changed_at=NOW - timedelta(minutes=5), last_error=message),
        NOW,
        home_account="acme",
    )
    assert alert.key == "failed:D-1:20261120T175500Z"
    assert "(client address missing or inconsistent)" in alert.subject
    assert "Município do tomador não corresponde ao CEP informado" in alert.summary
    assert MASKED_CPF in alert.summary
    assert "refused on Nov 20, 2026, 2:55 PM" in alert.summary
    assert "the client's address is missing or inconsistent" in alert.text
    assert alert.next_steps[0].startswith("Fix: complete and correct the client's address")
    assert "omie-pipeline invoices wait D-1" in alert.next_steps[0]
    assert alert.extra["cause"] == "missing_address"
    assert CPF not in alert.to_json() and CPF_DIGITS not in alert.to_json()


def test_a_refusal_with_a_known_remedy_is_recognised_and_gets_its_fix() -> None:
    alert = failed_alert(
        invoice_facts(status="error", status_changed_at=NOW, last_error="E0604 Alíquota de ISS para regime especial"),
        NOW,
        home_account="acme",
    )
    assert alert.extra["cause"] == "iss_rate_special_regime" and "does not recognise" not in alert.text
    assert alert.next_steps[0].startswith("Fix: remove the ISS rate from the service")


def test_an_unrecognised_refusal_gets_the_way_to_inspect_it_never_a_specific_fix() -> None:
    alert = failed_alert(
        invoice_facts(
            status="error",
            status_changed_at=NOW,
            last_error="X999 algo novo da prefeitura",
            stored_fix="remove the ISS rate from the service",
        ),
        NOW,
        home_account="acme",
    )
    assert alert.extra["cause"] == "unknown"
    assert not any(step.startswith("Fix:") for step in alert.next_steps)
    assert alert.next_steps[0].startswith("Next step: inspect it with `omie-pipeline invoices show D-1`")
    assert "read Omie's message" in alert.next_steps[0]
    assert alert.next_steps[1] == (
        "The prefeitura's correction, stored with the refusal: remove the ISS rate from the service."
    )
    plain = failed_alert(invoice_facts(status="error", status_changed_at=NOW, last_error="X999 algo novo"), NOW, "acme")
    assert not any("correction, stored" in step for step in plain.next_steps)


def test_a_deal_id_with_spaces_is_quoted_in_commands() -> None:
    alert = stuck_alert(invoice_facts(deal_id="deal 7"), 1, THRESHOLD, NOW, home_account="acme")
    assert alert.commands[0] == "omie-pipeline invoices wait 'deal 7'"


def test_commands_for_another_account_name_it() -> None:
    alert = failed_alert(
        invoice_facts(status="error", status_changed_at=NOW, last_error="CEP inválido"), NOW, home_account="main"
    )
    assert alert.commands == (
        "omie-pipeline invoices show D-1 --account acme",
        "omie-pipeline invoices wait D-1 --account acme",
        'omie-pipeline invoices cancel D-1 --account acme --reason "..."',
    )
    assert "`omie-pipeline invoices wait D-1 --account acme`" in alert.next_steps[0]


def test_a_run_failure_alert_names_job_step_error_and_links_the_run() -> None:
    alert = run_failure_alert(run_facts())
    assert alert.key == "run_failed:r-1"
    assert alert.run_url == "http://dagster.example:3000/runs/r-2"
    assert "emission_job" in alert.subject and "nfse_invoices" in alert.subject
    assert "AuthenticationError: A chave de acesso" in alert.text
    assert "retry 1 of run r-1" in alert.summary
    assert alert.next_steps[0].startswith("Omie refused the credentials")
    assert "Run: http://dagster.example:3000/runs/r-2" in alert.text


def test_a_run_error_is_scrubbed_of_secrets_cpfs_and_url_passwords() -> None:
    message = (
        f"boom for {CPF} with secret s3cr3t-value at postgresql://omie:pgpass@db:5432/x "
        "and https://hooks.slack.com/services/T1/B2/XYZ and https://h.example/x?token=abc123"
    )
    alert = run_failure_alert(run_facts(error_class="RuntimeError", error_message=message), secrets=["s3cr3t-value"])
    for leaked in (CPF, "s3cr3t-value", "pgpass", "hooks.slack.com", "abc123"):
        assert leaked not in alert.to_json()
    assert "postgresql://omie:***@db:5432/x" in alert.text


def test_an_alert_survives_its_json_record_unchanged() -> None:
    alert = run_failure_alert(run_facts())
    assert Alert.from_json(alert.to_json()) == alert
    stuck = stuck_alert(invoice_facts(), 1, THRESHOLD, NOW)
    assert Alert.from_json(stuck.to_json()) == stuck


@pytest.mark.parametrize(
    ("length", "text"),
    [
        (timedelta(seconds=59), "0 min"),
        (timedelta(minutes=45), "45 min"),
        (timedelta(minutes=125), "2 h 05 min"),
        (timedelta(days=3, hours=4, minutes=10), "3 d 4 h"),
    ],
)
def test_durations_read_naturally(length: timedelta, text: str) -> None:
    assert format_duration(length) == text


def test_scrub_leaves_cnpjs_and_ordinary_text_alone() -> None:
    assert scrub("CNPJ 11.222.333/0001-81 sem endereço") == "CNPJ 11.222.333/0001-81 sem endereço"
    assert scrub("naive", ["", "x" * 0]) == "naive"


def test_times_are_shown_in_sao_paulo_even_when_given_in_another_zone() -> None:
    since = datetime(2026, 11, 20, 10, 0, tzinfo=timezone(timedelta(hours=2)))  # 08:00 UTC = 05:00 in SP
    alert = stuck_alert(invoice_facts(since=since), 3, THRESHOLD, NOW)
    assert "since Nov 20, 2026, 5:00 AM" in alert.summary


def test_a_refusal_with_several_codes_is_named_by_the_one_that_decides_and_names_each() -> None:
    message = "E0014: DPS já informada anteriormente | E0116: Município do tomador não corresponde ao CEP informado."
    alert = failed_alert(invoice_facts(status="error", status_changed_at=NOW, last_error=message), NOW, "acme")
    assert alert.extra["cause"] == "missing_address" and "(client address missing or inconsistent)" in alert.subject
    assert "the client's address is missing" in alert.summary and "RPS/DPS number twice" in alert.summary
    assert alert.next_steps[0].startswith("Fix: complete and correct the client's address")
    assert "nothing to correct" not in alert.text
