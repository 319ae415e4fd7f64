"""Issuing against the simulator: the life cycle to issued and to error, and deals not ready yet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from omie_pipeline.domain.invoice_status import InvoiceStatus
from omie_pipeline.omie.models import ClientInput
from omie_pipeline.store.invoices import events_of, open_invoice_issues
from omie_pipeline.store.tables import client_links, invoices
from omie_pipeline.store.tax_rates import close_rates, lock_account_versions
from omie_pipeline.sync.catalog import sync_catalog
from omie_pipeline.sync.invoice_status import RefreshSettings, refresh_statuses
from omie_pipeline.sync.invoices import Outcome
from omie_pipeline.sync.tax_rates import sync_tax_rates
from support.simulated_omie import client_for, regime_of

from .conftest import SERVICE_INTEGRATION_CODE, Account, calls, calls_since, settle_prefeitura

VALID_CNPJ = "11222333000181"


def refresh(account: Account, **overrides) -> object:
    settings = RefreshSettings(redundant_interval=account.interval, **overrides)
    return refresh_statuses(account.client, account.store, account.name, settings=settings)


def test_life_cycle_to_issued(account: Account) -> None:
    deal_ids = account.add_deals(3)
    before = calls(account.sim)

    summary = account.issue()

    assert [summary.of(deal).outcome for deal in deal_ids] == [Outcome.SUBMITTED] * 3
    # One ConsultarOS per new OS keeps the taxes Omie computed beside the invoice's own.
    assert calls_since(account.sim, before) == {
        "ListarOS": 1,
        "IncluirOS": 3,
        "ConsultarOS": 3,
        "ValidarOS": 3,
        "FaturarOS": 3,
    }  # one look-up of the three new keys first
    invoice = account.invoice(deal_ids[0])
    assert invoice.status == InvoiceStatus.SUBMITTED and invoice.submitted_at is not None
    # The taxes recorded before sending (Lucro Presumido, IRRF 1.5 % and CSRF 4.65 % withheld).
    assert (invoice.gross_amount, invoice.ir_withheld_amount, invoice.withheld_total, invoice.net_amount) == (
        Decimal("2000.00"),
        Decimal("30.00"),
        Decimal("123.00"),
        Decimal("1877.00"),
    )
    with account.sim.state.lock:
        order = account.sim.state.orders[invoice.omie_os_id]
        taxes = order.items[0].taxes
        assert order.c_cod_int_os == invoice.idempotency_key
        assert order.total == invoice.gross_amount
        assert order.retained_total == invoice.withheld_total  # Omie holds back what the store says
        assert taxes.amounts["IRRF"] == invoice.ir_amount and taxes.retained["IRRF"]
        assert "Valor líquido: R$ 1.877,00" in order.informacoes_adicionais["cDadosAdicNF"]

    settle_prefeitura(account.sim)
    refresh(account)

    for deal_id in deal_ids:
        issued = account.invoice(deal_id)
        assert issued.status == InvoiceStatus.ISSUED
        assert issued.nfse_number and issued.verification_code and issued.issued_at is not None
        with account.sim.state.lock:
            note = account.sim.state.nfse_of_order(issued.omie_os_id)
            assert (str(note.number), note.cod_verif) == (issued.nfse_number, issued.verification_code)
    with account.store.connect() as connection:
        history = [(event.from_status, event.to_status) for event in events_of(connection, account.name, deal_ids[0])]
    assert history[0] == (None, "submitted")
    assert history[-1] == ("submitted", "issued") or history[-1] == ("processing", "issued")
    account.assert_exactly_once(deal_ids)


def test_life_cycle_to_error_when_the_prefeitura_rejects(account: Account) -> None:
    deal_ids = account.add_deals(2)
    account.sim.set_faults(prefeitura="reject")
    account.issue()
    settle_prefeitura(account.sim)

    summary = refresh(account, status_grace=timedelta(0))  # a rejected note is never listed: StatusOS tells

    assert summary.changes["error"] == 2
    for deal_id in deal_ids:
        invoice = account.invoice(deal_id)
        assert invoice.status == InvoiceStatus.ERROR
        assert invoice.rps_status == "003"
        assert invoice.last_error.startswith("E0") and invoice.fix  # the prefeitura's code, message and a fix
    with account.sim.state.lock:
        assert not account.sim.state.nfses  # no note exists for a rejected RPS
    account.assert_exactly_once(deal_ids)


def _client_without_email(account: Account) -> dict:
    record = {
        "codigo_cliente_integracao": "T-SEM-EMAIL",
        "razao_social": "Sem Email Comercio Ltda",
        "nome_fantasia": "Sem Email",
        "cnpj_cpf": VALID_CNPJ,
        "endereco": "Rua A",
        "endereco_numero": "10",
        "bairro": "Centro",
        "cidade": "SAO PAULO",
        "estado": "SP",
        "cep": "01001000",
    }
    created = account.client.include_client(ClientInput(**record))
    return {**record, "codigo_cliente_omie": created.codigo_cliente_omie, "email": None, "cep": "01001000"}


def test_validation_refusal_puts_the_invoice_in_error_and_the_others_go_on(account: Account) -> None:
    good = account.add_deals(2)
    (bad,) = account.add_deals(1, client=_client_without_email(account), email="compras@example.com.br")

    summary = account.issue()

    assert summary.of(bad).outcome is Outcome.ERROR
    assert [summary.of(deal).outcome for deal in good] == [Outcome.SUBMITTED] * 2
    invoice = account.invoice(bad)
    assert invoice.status == InvoiceStatus.ERROR and invoice.omie_os_id is not None  # the OS exists in Omie
    assert "ValidarOS" in invoice.last_error and "E-mail" in invoice.last_error
    assert "e-mail" in invoice.fix
    assert account.invoiced_orders() == 2

    again = account.issue()  # an invoice in error waits for a person: nothing is resent
    assert again.results == []
    assert len(account.orders_by_key()) == 3


def test_include_refusal_is_a_deal_issue_until_fixed(account: Account) -> None:
    (deal,) = account.add_deals(1, link=False)
    with account.store.begin() as connection:
        account.link(connection, deal, VALID_CNPJ, 999_999, datetime.now(UTC))  # no such Omie client

    summary = account.issue()

    assert summary.of(deal).outcome is Outcome.REFUSED
    assert account.invoices() == [] and account.orders_by_key() == {}  # no OS, so no invoice
    with account.store.connect() as connection:
        (issue,) = open_invoice_issues(connection, account.name, deal)
    assert issue["reason"] == "refused_by_omie" and "999999" in issue["message"]

    good_client = account.billable_clients[0]["codigo_cliente_omie"]
    with account.store.begin() as connection:
        connection.execute(
            sa.update(client_links)
            .where(client_links.c.deal_id == deal)
            .values(codigo_cliente_omie=good_client, linked_at=datetime.now(UTC))
        )
    assert account.issue().of(deal).outcome is Outcome.SUBMITTED
    with account.store.connect() as connection:
        assert open_invoice_issues(connection, account.name, deal) == []
    account.assert_exactly_once([deal])


def refuse(account: Account, count: int) -> list[str]:
    """Deals linked to a client Omie does not have: IncluirOS refuses each."""
    refused = account.add_deals(count, prefix="R", link=False)
    with account.store.begin() as connection:
        for deal in refused:
            account.link(connection, deal, VALID_CNPJ, 999_999, datetime.now(UTC))
    return refused


def test_refused_deals_are_not_resent_until_something_changes(account: Account) -> None:
    refused = refuse(account, 3)
    first = account.issue(client_for(account.sim, fault_streak_limit=3, fault_pause_seconds=60), workers=1)
    assert [first.of(deal).outcome for deal in refused] == [Outcome.REFUSED] * 3
    (newer,) = account.add_deals(1)
    before = calls(account.sim)

    # As in a new process, the fault streak starts at zero (other client settings, other streak
    # counts), and the refused deals are the oldest waiting.
    second = account.issue(client_for(account.sim, fault_streak_limit=3, fault_pause_seconds=61), workers=1)

    assert [second.of(deal).outcome for deal in refused] == [Outcome.AWAITING_FIX] * 3
    assert second.of(newer).outcome is Outcome.SUBMITTED
    assert calls_since(account.sim, before)["IncluirOS"] == 1
    with account.store.connect() as connection:
        assert {issue["deal_id"] for issue in open_invoice_issues(connection, account.name)} == set(refused)

    fixed = refused[0]  # relinked to a client Omie has: sent again, and invoiced
    with account.store.begin() as connection:
        connection.execute(
            sa.update(client_links)
            .where(client_links.c.deal_id == fixed)
            .values(
                codigo_cliente_omie=account.billable_clients[0]["codigo_cliente_omie"],
                linked_at=datetime.now(UTC),
            )
        )
    third = account.issue()
    assert third.of(fixed).outcome is Outcome.SUBMITTED
    assert [third.of(deal).outcome for deal in refused[1:]] == [Outcome.AWAITING_FIX] * 2
    account.assert_exactly_once([newer, fixed])


def test_a_paused_inclusion_leaves_the_other_deals_waiting_with_the_reason(account: Account) -> None:
    refused = refuse(account, 2)
    waiting = account.add_deals(2)
    before = calls(account.sim)

    summary = account.issue(client_for(account.sim, fault_streak_limit=2, fault_pause_seconds=60), workers=1)

    assert [summary.of(deal).outcome for deal in refused] == [Outcome.REFUSED] * 2
    assert [summary.of(deal).outcome for deal in waiting] == [Outcome.WAITING] * 2
    assert summary.count(Outcome.FAILED) == 0
    assert all("IncluirOS paused" in summary.of(deal).detail for deal in waiting)
    assert "misuse_risk" in summary.paused["IncluirOS"]
    assert calls_since(account.sim, before) == {"ListarOS": 1, "IncluirOS": 2}  # nothing sent for the waiting deals
    assert account.invoices() == []  # no intent left behind: nothing to resume, the deals simply wait

    later = account.issue()
    assert [later.of(deal).outcome for deal in waiting] == [Outcome.SUBMITTED] * 2
    account.assert_exactly_once(waiting)


def test_deals_not_ready_become_issues_with_a_fix_and_cost_no_call(account: Account) -> None:
    (unlinked,) = account.add_deals(1, link=False)
    (unmapped,) = account.add_deals(1, product_code="NOT-IN-THE-MAP")
    (no_street,) = account.add_deals(1, street=None)
    before = calls(account.sim)

    summary = account.issue()

    assert {summary.of(deal).outcome for deal in (unlinked, unmapped, no_street)} == {Outcome.NOT_READY}
    assert calls_since(account.sim, before) == {}
    with account.store.connect() as connection:
        issues = {
            (issue["deal_id"], issue["field"], issue["reason"]): issue
            for issue in open_invoice_issues(connection, account.name)
        }
    assert set(issues) == {
        (unlinked, "client", "no_client_link"),
        (unmapped, "product_code", "unmapped"),
        (no_street, "street", "missing"),
    }
    assert all(issue["fix"] for issue in issues.values())

    with account.store.begin() as connection:
        account.link(connection, unlinked, "x", account.billable_clients[0]["codigo_cliente_omie"], datetime.now(UTC))
    assert account.issue().of(unlinked).outcome is Outcome.SUBMITTED
    with account.store.connect() as connection:
        still_open = {issue["deal_id"] for issue in open_invoice_issues(connection, account.name)}
    assert still_open == {unmapped, no_street}


def test_a_service_without_rates_in_force_is_not_invoiced(account: Account) -> None:
    (deal,) = account.add_deals(1)
    with account.store.begin() as connection:
        lock_account_versions(connection, account.name)
        close_rates(connection, account.name, account.service_code, datetime.now(UTC))

    assert account.issue().of(deal).outcome is Outcome.NOT_READY
    with account.store.connect() as connection:
        (issue,) = open_invoice_issues(connection, account.name, deal)
    assert issue["reason"] == "no_rates_in_force" and account.service_code in issue["message"]


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"nAliqPIS": 2}, "pis_cofins_regime"),  # Lucro Presumido charges PIS at 0.65 %
        ({"nRedBasePIS": 40}, "base_reduction"),
    ],
)
def test_rates_that_break_the_regime_rules_are_not_invoiced(account: Account, change: dict, rule: str) -> None:
    """The order carries the computed amounts (cUtilizaValorImposto "S"): Omie would print them as they are."""
    (deal,) = account.add_deals(1)
    account.sim.update_service(SERVICE_INTEGRATION_CODE, **change)
    sync_catalog(account.client, account.store, account.name)
    sync_tax_rates(account.client, account.store, account.name, confirmed_regime=regime_of(account.sim))
    before = calls(account.sim)

    summary = account.issue()

    assert summary.of(deal).outcome is Outcome.NOT_READY
    assert "IncluirOS" not in calls_since(account.sim, before) and account.invoices() == []
    with account.store.connect() as connection:
        (issue,) = open_invoice_issues(connection, account.name, deal)
    assert (issue["field"], issue["reason"]) == ("tax_rates", "rates_break_rules")
    assert rule in issue["message"] and account.service_code in issue["message"]
    assert "Omie's catalog" in issue["fix"]


def test_an_unreadable_record_in_the_resume_look_up_does_not_stop_invoicing(account: Account) -> None:
    (unfinished,) = account.add_deals(1)
    account.issue()
    os_id = account.invoice(unfinished).omie_os_id
    with account.store.begin() as connection:  # as if the run had stopped before recording FaturarOS
        connection.execute(sa.update(invoices).where(invoices.c.deal_id == unfinished).values(submitted_at=None))
    with account.sim.state.lock:
        account.sim.state.orders[os_id].cabecalho["dDtPrevisao"] = "31/02/2026"
    (newer,) = account.add_deals(1)

    summary = account.issue()

    assert summary.of(newer).outcome is Outcome.SUBMITTED
    assert summary.of(unfinished).outcome is Outcome.FAILED and "dDtPrevisao" in summary.of(unfinished).detail
    (skipped,) = summary.skipped_records
    assert f"OS {os_id}" in skipped and "dDtPrevisao" in skipped
    assert account.invoice(unfinished).claimed_by is None  # released: the next run looks again


def test_a_description_longer_than_the_note_takes_is_clipped_and_the_history_says_so(account: Account) -> None:
    (deal,) = account.add_deals(1, description="Consultoria " + "x" * 20_000)

    account.issue()

    invoice = account.invoice(deal)
    assert invoice.omie_os_id is not None, "the OS was created: the text fits Omie's limit"
    with account.sim.state.lock:
        text = account.sim.state.orders[invoice.omie_os_id].informacoes_adicionais["cDadosAdicNF"]
    assert len(text) <= 2000 and text.startswith("Consultoria xxx") and "Valor líquido" in text
    with account.store.connect() as connection:
        history = " ".join(event.detail or "" for event in events_of(connection, account.name, deal))
    assert "description clipped from 20012 to" in history
