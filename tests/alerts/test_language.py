"""Alerts in pt-BR (the default) and in English: words, money, dates, the runbook link, the command to
run first, and Slack's fields; an alert keeps its language when it is delivered again later."""

from __future__ import annotations

import json
import shlex
from datetime import timedelta
from decimal import Decimal

import pytest

from omie_pipeline import i18n
from omie_pipeline.alerts.causes import (
    CANCEL_AGAIN,
    CANCEL_CAUSES,
    DEAL_PLACEHOLDER,
    KNOWN_CAUSES,
    UNKNOWN_CAUSE,
    fix_for_causes,
    fix_for_deal,
    for_deal,
)
from omie_pipeline.alerts.channels import SlackChannel, slack_message
from omie_pipeline.alerts.messages import (
    REOPENED,
    STALENESS_CHECKS,
    CheckFailureFacts,
    InvoiceFacts,
    SaleChange,
    SaleChangeFacts,
    check_failure_alert,
    failed_alert,
    run_failure_alert,
    sale_changed_alert,
    stuck_alert,
)
from omie_pipeline.alerts.model import Alert
from omie_pipeline.defs.checks.freshness import CATALOG_FRESH, STATUSES_FRESH, TAX_RATES_FRESH

from .conftest import CPF, CPF_DIGITS, MASKED_CPF, NOW, invoice_facts, run_facts

THRESHOLD = timedelta(minutes=30)


def _refused(**changes) -> InvoiceFacts:
    message = f"E0116 Município do tomador não corresponde ao CEP informado (tomador CPF {CPF})."
    return invoice_facts(status="error", status_changed_at=NOW - timedelta(minutes=5), last_error=message, **changes)


def test_a_stuck_alert_in_portuguese(portuguese) -> None:
    alert = stuck_alert(invoice_facts(), 2, THRESHOLD, NOW, home_account="acme")
    assert alert.language == "pt-BR"
    assert alert.subject == "[omie-pipeline] Nota parada há 1 h 05 min (nível 2/3): negócio D-1, conta acme"
    # 16:55 UTC is 13:55 in São Paulo, written as Brazilians do.
    assert alert.summary.startswith(
        "A NFS-e do negócio D-1 (conta acme) está em processing há 1 h 05 min, desde 20/11/2026 13:55 "
        "(aguardando o Omie e a prefeitura)."
    )
    text = alert.text
    assert "Cliente: Maria Souza, ***.982.247-**" in text
    assert "Nota: status processing, OS 000123, status do RPS 002, R$ 1.234,50" in text
    assert "Última consulta ao Omie: 20/11/2026 14:57" in text
    assert "O que conferir primeiro:" in text and "Comandos:" in text
    assert "Runbook: docs/runbook.md#invoice-stuck" in text
    assert alert.command == "omie-pipeline invoices wait D-1"
    assert (alert.client, alert.amount, alert.status_age) == (
        "Maria Souza, ***.982.247-**",
        "R$ 1.234,50",
        "1 h 05 min",
    )
    for english in ("What to check first", "Commands:", "Invoice stuck", "since", "account acme"):
        assert english not in text
    assert CPF not in alert.to_json() and CPF_DIGITS not in alert.to_json()


def test_the_same_stuck_alert_in_english() -> None:
    alert = stuck_alert(invoice_facts(), 2, THRESHOLD, NOW, home_account="acme")
    assert alert.language == "en"
    assert alert.subject == "[omie-pipeline] Invoice stuck for 1 h 05 min (level 2/3): deal D-1, account acme"
    assert "since Nov 20, 2026, 1:55 PM" in alert.summary
    assert "Invoice: status processing, OS 000123, RPS status 002, R$1,234.50" in alert.text
    assert alert.amount == "R$1,234.50"


def test_a_refused_invoice_in_portuguese_names_the_cause_the_fix_and_the_command(portuguese) -> None:
    alert = failed_alert(_refused(), NOW, home_account="acme")
    assert alert.subject == (
        "[omie-pipeline] Nota recusada (endereço do cliente incompleto ou inconsistente): negócio D-1, conta acme"
    )
    assert "foi recusada em 20/11/2026 14:55 (há 5 min)" in alert.summary
    assert "Causa provável: o endereço do cliente falta ou está inconsistente" in alert.summary
    assert MASKED_CPF in alert.summary and CPF not in alert.to_json()
    assert alert.next_steps[0].startswith("Correção: complete e corrija o endereço do cliente")
    assert "depois fature de novo com `omie-pipeline invoices retry D-1`" in alert.next_steps[0]
    assert "e confira com `omie-pipeline invoices wait D-1`" in alert.next_steps[0]
    assert alert.extra["cause"] == "missing_address"  # the stable code stays English
    assert alert.command == "omie-pipeline invoices show D-1"
    assert alert.runbook_url == "docs/runbook.md#invoice-refused"


def test_a_refused_invoices_subject_names_its_cause_in_english() -> None:
    alert = failed_alert(_refused(), NOW, home_account="acme")
    assert alert.subject == (
        "[omie-pipeline] Invoice refused (client address missing or inconsistent): deal D-1, account acme"
    )


def test_an_unrecognised_refusal_says_so_and_gives_no_guessed_cause(portuguese) -> None:
    alert = failed_alert(invoice_facts(status="error", status_changed_at=NOW, last_error="X999 algo novo"), NOW, "acme")
    assert "Este pipeline não reconhece esta recusa" in alert.summary
    assert "Causa provável" not in alert.summary
    assert alert.next_steps[0].startswith("Próximo passo: examine a nota com `omie-pipeline invoices show D-1`")


@pytest.mark.parametrize("language", i18n.LANGUAGES)
@pytest.mark.parametrize("known", [*KNOWN_CAUSES, UNKNOWN_CAUSE], ids=lambda known: getattr(known, "code", None))
def test_every_fix_names_its_deal_in_both_languages(language: str, known) -> None:
    deal = shlex.quote("deal 7")
    fix = fix_for_deal(known, deal, language)
    assert DEAL_PLACEHOLDER not in fix
    if known.resend:
        assert f"omie-pipeline invoices wait {deal}" in fix
    with i18n.using_language(language):
        assert fix.startswith(for_deal(i18n._(known.fix), deal))


@pytest.mark.parametrize("language", i18n.LANGUAGES)
@pytest.mark.parametrize("known", [*CANCEL_CAUSES, UNKNOWN_CAUSE], ids=lambda known: getattr(known, "code", None))
def test_every_fix_of_a_refused_cancellation_names_its_deal_in_both_languages(language: str, known) -> None:
    deal = shlex.quote("deal 7")
    fix = fix_for_causes((known,), deal, language, then=CANCEL_AGAIN)
    assert DEAL_PLACEHOLDER not in fix
    assert "invoices retry" not in fix
    assert (f"omie-pipeline invoices cancel {deal} --reason" in fix) is known.resend


def test_a_refused_cancellation_is_asked_again_in_portuguese(portuguese) -> None:
    fix = fix_for_causes((UNKNOWN_CAUSE,), "D-1", then=CANCEL_AGAIN)
    assert fix.startswith("examine a nota com `omie-pipeline invoices show D-1`")
    assert fix.endswith(
        'depois peça o cancelamento de novo com `omie-pipeline invoices cancel D-1 --reason "..."` '
        "(nada o pede de novo sozinho)"
    )


def test_the_run_and_check_alerts_link_their_runbook_sections(portuguese) -> None:
    run = run_failure_alert(
        run_facts(
            run_id="r-1",
            error_message="chave de acesso inválida",
            started_at=None,
            retry_number=0,
            run_url="http://dagster.example:3000/runs/r-1",
        ),
        runbook_url="https://wiki.example/omie/runbook.md",
    )
    assert run.subject == "[omie-pipeline] Run com falha: emission_job (conta acme), passo nfse_invoices"
    assert run.runbook_url == "https://wiki.example/omie/runbook.md#run-failed"
    assert run.next_steps[0].startswith("o Omie recusou as credenciais")

    def check(name: str) -> Alert:
        facts = CheckFailureFacts(name, "nfse_status", "acme", "acme", "stale", NOW, 7, 1, "r-2", "http://x/runs/r-2")
        return check_failure_alert(facts, "omie-pipeline invoices list")

    assert check(STATUSES_FRESH).runbook_url == "docs/runbook.md#stale-data"
    assert "'Dados desatualizados'" in check(STATUSES_FRESH).next_steps[1]
    assert check("nfse_invoices_one_os_and_nfse_each").runbook_url == "docs/runbook.md#failed-checks"
    assert check(STATUSES_FRESH).command == "omie-pipeline invoices list"


def _sale_changed() -> SaleChangeFacts:
    change = SaleChange(REOPENED, "o negócio D-1 está 'lost' no CRM")
    return SaleChangeFacts("acme", "D-1", "000123", Decimal("1234.50"), NOW - timedelta(minutes=5), (change,))


def test_a_changed_sale_alert_in_portuguese_puts_show_first_and_proposes_a_portuguese_reason(portuguese) -> None:
    alert = sale_changed_alert(_sale_changed(), home_account="acme", runbook_url="https://wiki.example/runbook.md")
    assert alert.language == "pt-BR"
    assert alert.subject == "[omie-pipeline] Venda alterada depois da emissão da NFS-e: negócio D-1, conta acme"
    assert alert.summary.startswith("O negócio mudou no CRM depois que NFS-e 000123 (R$ 1.234,50) foi emitida")
    assert alert.command == "omie-pipeline invoices show D-1"
    assert alert.commands[1] == (
        "omie-pipeline invoices cancel D-1 --reason 'Venda desfeita no CRM depois da emissão da nota'"
    )
    assert alert.next_steps[0].startswith("Decida com o time de vendas se NFS-e 000123 deve ser cancelada")
    assert "de 15 a 255 caracteres" in alert.next_steps[1]
    assert alert.runbook_url == "https://wiki.example/runbook.md#sale-changed"
    assert "Vista pela primeira vez: 20/11/2026 14:55" in alert.text and "Seen since" not in alert.text
    assert alert.amount == "R$ 1.234,50"


def test_the_same_changed_sale_alert_in_english() -> None:
    alert = sale_changed_alert(_sale_changed(), home_account="acme")
    assert alert.subject == "[omie-pipeline] Sale changed after its NFS-e was issued: deal D-1, account acme"
    assert alert.commands[1].endswith("--reason 'Sale undone in the CRM after the note was issued'")
    assert alert.runbook_url == "docs/runbook.md#sale-changed" and alert.amount == "R$1,234.50"


def test_the_staleness_checks_are_the_freshness_checks() -> None:
    assert {STATUSES_FRESH, CATALOG_FRESH, TAX_RATES_FRESH} == STALENESS_CHECKS


def test_slack_gets_the_deal_client_amount_age_command_and_runbook_in_portuguese(portuguese, slack) -> None:
    alert = stuck_alert(invoice_facts(), 2, THRESHOLD, NOW, home_account="acme")
    SlackChannel(slack.url).send(alert)
    [body] = slack.delivered
    [fields] = [block["fields"] for block in body["blocks"] if "fields" in block]
    assert [field["text"] for field in fields] == [
        "*Negócio*\nD-1",
        f"*Cliente*\nMaria Souza, {MASKED_CPF}",
        "*Valor*\nR$ 1.234,50",
        "*Há quanto tempo no status*\n1 h 05 min",
    ]
    sections = "\n".join(block["text"]["text"] for block in body["blocks"] if "text" in block)
    assert "*Rode isto primeiro*\n```omie-pipeline invoices wait D-1```" in sections
    assert "*Outros comandos*" in sections and "*O que conferir primeiro*" in sections
    # Slack accepts buttons to absolute URLs only: the repository path is shown as text.
    assert "Runbook: `docs/runbook.md#invoice-stuck`" in sections
    assert not any(block["type"] == "actions" for block in body["blocks"])
    assert CPF not in json.dumps(body) and CPF_DIGITS not in json.dumps(body)


def test_slack_links_a_runbook_url_with_a_button(portuguese) -> None:
    alert = stuck_alert(invoice_facts(), 1, THRESHOLD, NOW, runbook_url="https://wiki.example/runbook.md")
    [actions] = [block for block in slack_message(alert)["blocks"] if block["type"] == "actions"]
    assert actions["elements"] == [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": "Abrir o runbook"},
            "url": "https://wiki.example/runbook.md#invoice-stuck",
        }
    ]


def test_an_alert_is_delivered_again_in_the_language_it_was_written_in(portuguese) -> None:
    recorded = failed_alert(_refused(), NOW, home_account="acme").to_json()
    i18n.set_language("en")  # the process that retries it speaks English
    again = Alert.from_json(recorded)
    assert again.language == "pt-BR"
    assert "O que conferir primeiro:" in again.text and "What to check first" not in again.text
    headings = json.dumps(slack_message(again), ensure_ascii=False)
    assert "Rode isto primeiro" in headings and "Run this first" not in headings


def test_an_alert_recorded_before_alerts_had_a_language_is_english(portuguese) -> None:
    payload = json.loads(failed_alert(_refused(), NOW).to_json())
    del payload["language"]
    assert Alert.from_json(json.dumps(payload)).language == "en"
