"""The `omie-pipeline invoices` commands, configured through the environment like in production."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from omie_pipeline.cli import invoices as invoices_cli
from omie_pipeline.cli import main
from omie_pipeline.domain.documents import normalise_document
from omie_pipeline.domain.timeutil import to_sao_paulo
from omie_pipeline.i18n import format_moment, format_money, using_language
from omie_pipeline.store.tables import deals

from .conftest import REDUNDANT_SECONDS, Account, settle_prefeitura

REASON = "Nota emitida com valor errado, será reemitida"
LIST_KEYS = {"deal_id", "status", "nfse_number", "verification_code", "portal_url", "omie_os_id", "last_error"}


@pytest.fixture
def cli(account: Account, db_url: str):
    env = {
        "OMIE_BASE_URL": account.sim.base_url,
        "OMIE_APP_KEY": account.sim.config.app_key,
        "OMIE_APP_SECRET": account.sim.config.app_secret,
        "OMIE_PIPELINE_DB_URL": db_url,
        "OMIE_PIPELINE_ACCOUNT": account.name,
        "OMIE_REDUNDANT_SECONDS": str(REDUNDANT_SECONDS),
        "OMIE_RATE_WINDOW_SECONDS": str(account.sim.config.window_seconds),
    }
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(main, ["invoices", *args], env=env, catch_exceptions=False)

    run.env = env
    return run


def person_client(account: Account) -> dict:
    return next(c for c in account.billable_clients if len(normalise_document(c["cnpj_cpf"])) == 11)


def test_list_and_show(account: Account, cli, tmp_path) -> None:
    client = person_client(account)
    (deal,) = account.add_deals(1, client=client)
    other = account.add_deals(1)[0]
    account.issue()
    assert cli("wait", deal, "--timeout", "10").exit_code == 0
    assert cli("wait", other, "--timeout", "10").exit_code == 0

    listed = cli("list", "--json")
    assert listed.exit_code == 0
    rows = json.loads(listed.output)
    assert {row["deal_id"] for row in rows} == {deal, other}
    assert all(set(row) >= LIST_KEYS and row["status"] == "issued" and row["nfse_number"] for row in rows)
    assert json.loads(cli("list", "--status", "error", "--json").output) == []
    table = cli("list").output
    assert deal in table
    issued_at = to_sao_paulo(account.invoice(deal).issued_at)
    assert format_moment(issued_at) in table and not re.search(r"\d{4}-\d{2}-\d{2}", table)
    assert re.search(r"R\$[\d,]+\.\d{2}", table) and "last error" in table.splitlines()[0]

    shown = cli("show", deal)
    cpf = normalise_document(client["cnpj_cpf"])
    assert shown.exit_code == 0
    assert "issued" in shown.output and rows[0]["verification_code"] in cli("show", rows[0]["deal_id"]).output
    assert cpf not in shown.output and f"***.{cpf[3:6]}.{cpf[6:9]}-**" in shown.output  # the CPF is masked
    assert "processing -> issued" in shown.output or "submitted -> issued" in shown.output
    detail = json.loads(cli("show", deal, "--json").output)
    assert detail["client"]["document"].startswith("***") and detail["history"][0]["to"] == "submitted"

    pdf, xml = tmp_path / "nota.pdf", tmp_path / "nota.xml"
    downloaded = cli("show", deal, "--pdf", str(pdf), "--xml", str(xml))
    assert downloaded.exit_code == 0 and f"PDF saved to {pdf}" in downloaded.output
    assert pdf.read_bytes().startswith(b"%PDF") and xml.read_bytes().startswith(b"<?xml")
    link = next(line for line in downloaded.output.splitlines() if line.startswith("link:")).split()[-1]
    assert link.endswith("/portal") and "PDF:" not in downloaded.output  # the portal page, never shown as the PDF
    assert json.loads(cli("show", deal, "--json").output)["portal_url"] == link


def test_list_and_show_speak_portuguese_by_default(portuguese, account: Account, cli) -> None:
    """Finance reads the commands in pt-BR unless told otherwise: words, São Paulo dates as dd/mm/aaaa and
    money as R$ 1.234,56; the status codes stay the ones `--status` takes."""
    (deal,) = account.add_deals(1)
    account.issue()
    assert cli("wait", deal, "--timeout", "10").exit_code == 0
    invoice = account.invoice(deal)
    issued_at = to_sao_paulo(invoice.issued_at)

    header, row = cli("list").output.splitlines()
    assert header.split()[:3] == ["negócio", "situação", "NFS-e"] and "último erro" in header
    assert f"{issued_at:%d/%m/%Y %H:%M}" in row and " issued " in row
    assert re.search(r"R\$ [\d.]+,\d{2}", row)

    shown = cli("show", deal).output
    with using_language("pt-BR"):
        gross = format_money(invoice.gross_amount)
    assert "valor bruto:" in shown and gross in shown and "," in gross.split()[-1]
    assert "histórico (horário de São Paulo):" in shown and "emitida em:" in shown
    assert f"{issued_at:%d/%m/%Y %H:%M}" in shown
    assert cli("show", "nobody").output == f"o negócio nobody não tem nota na conta {account.name}\n"

    cli.env["OMIE_PIPELINE_LANGUAGE"] = "en"
    english = cli("show", deal).output
    assert "gross:" in english and "history (São Paulo time):" in english and "valor bruto" not in english
    assert re.search(r"gross:\s+R\$[\d,]+\.\d{2}$", english, re.MULTILINE)


def test_show_explains_a_deal_without_invoice(account: Account, cli) -> None:
    (deal,) = account.add_deals(1, link=False)
    account.issue()
    shown = cli("show", deal)
    assert shown.exit_code == 1 and "no Omie client" in shown.output and "fix:" in shown.output
    assert cli("show", "nobody").exit_code == 1


def test_wait_exit_codes(account: Account, cli) -> None:
    (stuck,) = account.add_deals(1)
    account.sim.set_faults(prefeitura="stuck")
    account.issue()
    assert cli("wait", stuck, "--timeout", "1").exit_code == 3

    account.sim.set_faults(prefeitura="reject")
    (rejected,) = account.add_deals(1)
    account.issue()
    result = cli("wait", rejected, "--timeout", "10")
    assert result.exit_code == 2 and "fix:" in result.output


def test_cancel(account: Account, cli) -> None:
    (deal,) = account.add_deals(1)
    account.issue()
    settle_prefeitura(account.sim)

    assert cli("cancel", deal).exit_code == 2  # --reason is required
    assert cli("cancel", deal, "--reason", "oops", "--by", "ana", "--yes").exit_code == 1
    assert cli("wait", deal, "--timeout", "10").exit_code == 0
    result = cli("cancel", deal, "--reason", REASON, "--by", "ana", "--confirm-timeout", "5", "--yes")

    assert result.exit_code == 0, result.output
    assert "cancelled" in result.output
    assert account.invoice(deal).cancel_requested_by == "ana"
    assert cli("wait", deal, "--timeout", "1").exit_code == 4


def test_cancel_asks_first_and_refuses_without_a_terminal(account: Account, cli, monkeypatch) -> None:
    client = person_client(account)
    (deal,) = account.add_deals(1, client=client)
    account.issue()
    assert cli("wait", deal, "--timeout", "10").exit_code == 0
    invoice = account.invoice(deal)

    unattended = cli("cancel", deal, "--reason", REASON)
    assert unattended.exit_code == 1 and "--yes" in unattended.output

    monkeypatch.setattr(invoices_cli, "_interactive", lambda: True)
    runner = CliRunner()
    declined = runner.invoke(
        main, ["invoices", "cancel", deal, "--reason", REASON], input="\n", env=cli.env, catch_exceptions=False
    )
    cpf = normalise_document(client["cnpj_cpf"])
    assert declined.exit_code == 1 and "[y/N]" in declined.output
    assert f"NFS-e {invoice.nfse_number}" in declined.output and deal in declined.output
    assert format_money(invoice.gross_amount) in declined.output
    assert f"***.{cpf[3:6]}.{cpf[6:9]}-**" in declined.output and cpf not in declined.output
    assert account.invoice(deal).status == "issued" and account.invoice(deal).cancel_requested_by is None


def test_retry_refuses_an_unchanged_refusal_then_bills_the_corrected_one(account: Account, cli) -> None:
    paulista = next(client for client in account.billable_clients if client["estado"] == "SP")
    with account.sim.state.lock:  # a CEP of Rio de Janeiro: the prefeitura refuses the address
        account.sim.state.clients[paulista["codigo_cliente_omie"]]["cep"] = "20040-020"
    (deal,) = account.add_deals(1, client={**paulista, "cep": "20040-020"})
    account.issue()
    assert cli("wait", deal, "--timeout", "10").exit_code == 2

    unchanged = cli("retry", deal)

    assert unchanged.exit_code == 2
    assert "nothing changed since the prefeitura refused it: fix the client's data" in unchanged.output
    with account.store.begin() as connection:  # the client's CEP corrected in the CRM
        connection.execute(
            sa.update(deals).where(deals.c.deal_id == deal).values(updated_at=datetime.now(UTC), zip="01001000")
        )
    fixed = cli("retry", deal, "--by", "ana")
    assert fixed.exit_code == 0, fixed.output
    assert f"deal {deal}: resent" in fixed.output and f"invoices wait {deal}" in fixed.output
    assert cli("wait", deal, "--timeout", "10").exit_code == 0
    account.assert_exactly_once([deal])


def test_reissue_asks_first_then_issues_a_new_note_for_a_cancelled_one(account: Account, cli) -> None:
    (deal,) = account.add_deals(1)
    account.issue()
    assert cli("wait", deal, "--timeout", "10").exit_code == 0
    assert cli("cancel", deal, "--reason", REASON, "--yes", "--confirm-timeout", "5").exit_code == 0
    first_key = account.invoice(deal).idempotency_key

    unconfirmed = cli("reissue", deal)

    assert unconfirmed.exit_code == 1 and "--yes" in unconfirmed.output
    assert account.invoice(deal).status == "cancelled"
    reissued = cli("reissue", deal, "--yes", "--by", "ana")
    assert reissued.exit_code == 0, reissued.output
    assert cli("wait", deal, "--timeout", "10").exit_code == 0
    shown = json.loads(cli("show", deal, "--json").output)
    assert shown["issue_number"] == 2 and shown["idempotency_key"] != first_key


def _cancelled(account: Account, cli) -> str:
    (deal,) = account.add_deals(1)
    account.issue()
    assert cli("wait", deal, "--timeout", "10").exit_code == 0
    assert cli("cancel", deal, "--reason", REASON, "--yes", "--confirm-timeout", "5").exit_code == 0
    return deal


def test_reissue_exits_4_when_omie_refuses_the_new_note(account: Account, cli) -> None:
    deal = _cancelled(account, cli)
    account.sim.set_faults(schedule=[{"kind": "account_blocked", "method": "FaturarOS"}])

    refused = cli("reissue", deal, "--yes", "--by", "ana")

    assert refused.exit_code == 4, refused.output
    assert f"deal {deal}: error: FaturarOS: " in refused.output and "Conta bloqueada" in refused.output
    assert "invoices wait" not in refused.output
    invoice = account.invoice(deal)
    assert invoice.status == "error" and invoice.issue_number == 2


def test_reissue_exits_3_when_a_call_is_paused_and_the_next_run_settles_it(account: Account, cli) -> None:
    deal = _cancelled(account, cli)
    # Omie asks for a wait longer than the command's client sits through (120 s): nothing is billed now.
    account.sim.set_faults(schedule=[{"kind": "wait_to_request", "method": "FaturarOS", "seconds": 300}])

    paused = cli("reissue", deal, "--yes", "--by", "ana")

    assert paused.exit_code == 3, paused.output
    assert f"deal {deal}: waiting: FaturarOS paused" in paused.output
    assert account.invoice(deal).status == "submitted" and account.invoice(deal).issue_number == 2
    account.sim.set_faults(clear=True)
    assert account.issue().of(deal).outcome.value == "submitted", "the next emission run bills it"
    assert cli("wait", deal, "--timeout", "10").exit_code == 0
