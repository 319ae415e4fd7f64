"""Throttling answers on every emission call: the same intent is sent again, never dropped, never put
in error; a wait past the run's deadline leaves it for the next run; "Conta bloqueada para
faturamento" is a refusal of one invoice, not a block of the account."""

from __future__ import annotations

from datetime import timedelta

from omie_pipeline.domain.invoice_status import InvoiceStatus
from omie_pipeline.sync.invoices import Outcome
from support.simulated_omie import client_for

from .conftest import Account


def test_every_throttling_text_on_the_emission_calls_still_submits_each_deal_once(account: Account) -> None:
    deal_ids = account.add_deals(3)
    client = client_for(account.sim, concurrency_waits=(0.2, 0.4))
    account.sim.set_faults(
        schedule=[
            {"kind": "burst", "method": "IncluirOS"},
            {"kind": "gateway_403", "method": "IncluirOS"},
            {"kind": "wait_to_request", "method": "ValidarOS", "seconds": 1},
            {"kind": "try_again_in", "method": "FaturarOS", "seconds": 1, "delivery": "refusal"},
            {"kind": "concurrency", "method": "FaturarOS"},
        ]
    )

    summary = account.issue(client)

    assert [summary.of(deal).outcome for deal in deal_ids] == [Outcome.SUBMITTED] * 3, summary.results
    assert account.sim.stats()["faults_injected"]["scheduled"] == 5
    assert account.invoiced_orders() == 3
    account.assert_exactly_once(deal_ids)
    assert not summary.paused


def test_account_blocked_for_billing_puts_only_that_invoice_in_error(account: Account) -> None:
    deal_ids = account.add_deals(3)
    account.sim.set_faults(schedule=[{"kind": "account_blocked", "method": "FaturarOS"}])

    summary = account.issue(workers=1)

    outcomes = [summary.of(deal).outcome for deal in deal_ids]
    assert outcomes == [Outcome.ERROR, Outcome.SUBMITTED, Outcome.SUBMITTED], summary.results
    assert "Conta bloqueada para faturamento" in (account.invoice(deal_ids[0]).last_error or "")
    assert not summary.paused, "a record refusal does not stop the account"


def test_a_wait_past_the_run_deadline_leaves_the_intent_for_the_next_run(account: Account) -> None:
    deal_ids = account.add_deals(2)
    client = client_for(account.sim, max_wait=30.0)
    account.sim.set_faults(schedule=[{"kind": "wait_to_request", "method": "FaturarOS", "seconds": 5}])

    summary = account.issue(client, workers=1, run_budget=timedelta(seconds=2))

    assert [summary.of(deal).outcome for deal in deal_ids] == [Outcome.WAITING] * 2, summary.results
    assert "deadline" in summary.paused["FaturarOS"]
    for deal_id in deal_ids:
        invoice = account.invoice(deal_id)
        assert invoice.status == InvoiceStatus.SUBMITTED and invoice.omie_os_id and not invoice.last_error

    account.sim.set_faults(clear=True)
    later = account.issue(client)

    assert [later.of(deal).outcome for deal in deal_ids] == [Outcome.SUBMITTED] * 2, later.results
    account.assert_exactly_once(deal_ids)
