"""Fix and resend: an invoice the prefeitura refused for the client's address is corrected (in the CRM
or in Omie) and billed again on its OS by the next emission run, ending issued with one OS and one
NFS-e; a retry that would send the same data again is refused with what to fix."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from omie_pipeline.domain.invoice_status import InvoiceStatus
from omie_pipeline.store.invoices import events_of
from omie_pipeline.store.tables import deals
from omie_pipeline.sync.client_index import refresh_client_index
from omie_pipeline.sync.invoice_actions import wait_for_invoice
from omie_pipeline.sync.invoice_resend import (
    NothingChangedError,
    ResendNotAllowedError,
    resend_changed_invoices,
    resend_invoice,
)
from omie_pipeline.sync.invoices import Outcome
from support.simulated_omie import client_for

from .conftest import FAST, REDUNDANT_SECONDS, Account, calls, calls_since

RIO_CEP = "20040-020"
SAO_PAULO_CEP = "01001-000"


def _paulista_with_rio_cep(account: Account) -> dict[str, Any]:
    """A billable client of São Paulo whose CEP (in Omie and in the CRM) is one of Rio de Janeiro."""
    chosen = next(client for client in account.billable_clients if client["estado"] == "SP")
    with account.sim.state.lock:
        account.sim.state.clients[chosen["codigo_cliente_omie"]]["cep"] = RIO_CEP
    return {**chosen, "cep": RIO_CEP}


def _settle(account: Account, deal_id: str):
    result = wait_for_invoice(
        account.client, account.store, account.name, deal_id, timeout=10, interval=account.interval
    )
    return result.invoice


def emission_run(account: Account, **settings: Any) -> dict[str, Outcome]:
    """What the `nfse_invoices` asset does: issue new deals, then bill again the refused ones fixed since."""
    summary = account.issue(**settings)
    resent = resend_changed_invoices(account.steps(**settings))
    return {result.deal_id: result.outcome for result in [*summary.results, *resent]}


def _refused_deal(account: Account) -> str:
    (deal_id,) = account.add_deals(1, client=_paulista_with_rio_cep(account))
    account.issue()
    invoice = _settle(account, deal_id)
    assert invoice.status == InvoiceStatus.ERROR and "E0116" in invoice.last_error
    return deal_id


def _correct_crm_zip(account: Account, deal_id: str) -> None:
    with account.store.begin() as connection:
        connection.execute(
            sa.update(deals)
            .where(deals.c.account == account.name, deals.c.deal_id == deal_id)
            .values(zip=SAO_PAULO_CEP.replace("-", ""), updated_at=datetime.now(UTC))
        )


def _assert_one_os_one_note(account: Account, deal_id: str) -> None:
    invoice = account.invoice(deal_id)
    assert account.orders_by_key()[invoice.idempotency_key] == [invoice.omie_os_id]
    assert account.nfses_by_order() == {invoice.omie_os_id: 1}


def test_a_refusal_fixed_in_the_crm_is_corrected_in_omie_and_billed_again_by_the_next_run(account: Account) -> None:
    deal_id = _refused_deal(account)
    client_id = account.invoice(deal_id).codigo_cliente_omie
    _correct_crm_zip(account, deal_id)
    before = calls(account.sim)

    assert emission_run(account)[deal_id] is Outcome.RESENT

    made = calls_since(account.sim, before)
    assert (made.get("AlterarCliente"), made.get("AlterarOS"), made.get("FaturarOS")) == (1, 1, 1)
    assert "IncluirOS" not in made, "the same OS is corrected, no second one is created"
    with account.sim.state.lock:
        assert account.sim.state.clients[client_id]["cep"] == SAO_PAULO_CEP
    invoice = _settle(account, deal_id)
    assert invoice.status == InvoiceStatus.ISSUED and invoice.nfse_number and invoice.billing_attempt == 2
    _assert_one_os_one_note(account, deal_id)
    with account.store.connect() as connection:
        history = [event.detail or "" for event in events_of(connection, account.name, deal_id)]
    assert any("E0116" in detail for detail in history), "the refusal, with Omie's message, stays in the history"
    assert any(
        detail.startswith("billing attempt 2 claimed (automatic: the deal changed in the CRM)") for detail in history
    )
    assert any("AlterarCliente" in detail and "cep" in detail for detail in history)
    assert any("FaturarOS accepted" in detail for detail in history)
    before = calls(account.sim)
    assert deal_id not in emission_run(account), "an issued invoice is not billed again"
    assert "FaturarOS" not in calls_since(account.sim, before)


def test_a_client_corrected_in_omie_is_billed_again_without_touching_the_client(account: Account) -> None:
    deal_id = _refused_deal(account)
    refresh_client_index(account.client, account.store, account.name)
    client_id = account.invoice(deal_id).codigo_cliente_omie
    account.client.alter_client({"codigo_cliente_omie": client_id, "cep": SAO_PAULO_CEP})  # finance, in Omie
    refresh_client_index(account.client, account.store, account.name)
    before = calls(account.sim)

    assert emission_run(account)[deal_id] is Outcome.RESENT

    made = calls_since(account.sim, before)
    assert "AlterarCliente" not in made and made.get("FaturarOS") == 1
    assert _settle(account, deal_id).status == InvoiceStatus.ISSUED
    _assert_one_os_one_note(account, deal_id)


def test_a_retry_with_nothing_changed_is_refused_with_what_to_fix(account: Account) -> None:
    deal_id = _refused_deal(account)
    before = calls(account.sim)

    with pytest.raises(NothingChangedError) as refused:
        resend_invoice(account.steps(), deal_id, requested_by="ana")
    assert emission_run(account)[deal_id] is Outcome.AWAITING_FIX

    assert "nothing changed since the prefeitura refused it: fix the client's data" in str(refused.value)
    assert calls_since(account.sim, before) == {}
    invoice = account.invoice(deal_id)
    assert invoice.status == InvoiceStatus.ERROR and invoice.billing_attempt == 1


def test_a_retry_asked_for_is_sent_once_and_a_second_one_is_refused(account: Account) -> None:
    deal_id = _refused_deal(account)
    _correct_crm_zip(account, deal_id)

    result = resend_invoice(account.steps(), deal_id, requested_by="ana")

    assert result.outcome is Outcome.RESENT
    with pytest.raises(ResendNotAllowedError, match="only an invoice in error"):
        resend_invoice(account.steps(), deal_id, requested_by="ana")
    assert _settle(account, deal_id).status == InvoiceStatus.ISSUED
    _assert_one_os_one_note(account, deal_id)


def test_a_billing_whose_answer_was_lost_is_followed_not_billed_twice(account: Account) -> None:
    deal_id = _refused_deal(account)
    _correct_crm_zip(account, deal_id)
    account.sim.set_faults(lose_response_next=1, methods=["FaturarOS"])

    assert resend_invoice(account.steps(), deal_id, requested_by="ana").outcome is (Outcome.UNKNOWN)
    assert account.invoice(deal_id).status == InvoiceStatus.ERROR
    before = calls(account.sim)
    assert deal_id not in emission_run(account), "the unfinished attempt is held until its claim runs out"

    assert emission_run(account, claim_lease=timedelta(0))[deal_id] is Outcome.ADOPTED

    assert "FaturarOS" not in calls_since(account.sim, before)
    assert _settle(account, deal_id).status == InvoiceStatus.ISSUED
    _assert_one_os_one_note(account, deal_id)


def test_a_refusal_not_in_the_data_is_not_resent_by_itself_but_a_person_may_retry_it(account: Account) -> None:
    (deal_id,) = account.add_deals(1)
    account.sim.set_faults(faturar_refuse_next=1)  # "certificado digital vencido": renewed in Omie, unseen here
    account.issue()
    assert "certificado" in account.invoice(deal_id).last_error

    assert emission_run(account)[deal_id] is Outcome.AWAITING_FIX
    result = resend_invoice(account.steps(), deal_id, requested_by="ana")

    assert result.outcome is Outcome.RESENT
    assert _settle(account, deal_id).status == InvoiceStatus.ISSUED
    _assert_one_os_one_note(account, deal_id)


OMIE_INTERVAL = 3.0  # long enough that a retry typed right after the refusal falls inside it


@pytest.mark.parametrize("simulator_settings", [{**FAST, "redundant_seconds": OMIE_INTERVAL}])
def test_a_retry_within_omies_interval_waits_it_out_and_ends_billed_in_the_same_command(
    account: Account, tmp_path
) -> None:
    (deal_id,) = account.add_deals(1)
    account.sim.set_faults(faturar_refuse_next=1)  # "certificado digital vencido": renewed in Omie, then retried
    interval = timedelta(seconds=OMIE_INTERVAL)
    account.issue(redundant_interval=interval)
    assert "certificado" in account.invoice(deal_id).last_error
    # `invoices retry` on another machine: its client has seen none of the emission's calls.
    on_call = client_for(account.sim, pacing_url=f"sqlite:///{tmp_path / 'on_call_pacing.sqlite'}")
    started = time.monotonic()

    result = resend_invoice(account.steps(on_call, redundant_interval=interval), deal_id, requested_by="ana")

    assert result.outcome is Outcome.RESENT, result.detail
    assert time.monotonic() - started < 2 * OMIE_INTERVAL, "no wait for the claim's lease"
    assert account.sim.stats()["rejected"]["redundant"] == 0, "the same FaturarOS is not sent inside the interval"
    invoice = wait_for_invoice(
        account.client, account.store, account.name, deal_id, timeout=15, interval=interval
    ).invoice
    assert invoice.status == InvoiceStatus.ISSUED and invoice.billing_attempt == 2
    _assert_one_os_one_note(account, deal_id)


def test_a_refusal_read_before_a_resend_does_not_put_the_resent_invoice_back_in_error(account: Account) -> None:
    """A status refresh asks about the refused note; before its answer is stored, the corrected
    invoice is billed again. That answer speaks of the first billing: the second one stays in hand."""
    deal_id = _refused_deal(account)
    _correct_crm_zip(account, deal_id)

    def resend() -> dict[str, Outcome]:
        time.sleep(REDUNDANT_SECONDS)  # Omie answers the same question again only after its interval
        return {r.deal_id: r.outcome for r in resend_changed_invoices(account.steps(client_for(account.sim)))}

    resent = account.refresh_while(deal_id, resend)

    assert resent == {deal_id: Outcome.RESENT}
    invoice = account.invoice(deal_id)
    assert invoice.billing_attempt == 2 and invoice.status == InvoiceStatus.PROCESSING
    assert _settle(account, deal_id).status == InvoiceStatus.ISSUED
