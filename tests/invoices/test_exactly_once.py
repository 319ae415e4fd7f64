"""Exactly once: one OS and one NFS-e per deal through lost answers, crashes and concurrent runs.

Every scenario is followed by reruns of the issuing step and by status refreshes until the
prefeitura has answered, and then Omie's own state (the simulator's) is counted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from omie_pipeline.domain.invoice_status import InvoiceStatus
from omie_pipeline.store import Store
from omie_pipeline.store.invoices import open_invoice_issues
from omie_pipeline.store.tables import invoice_events, invoices
from omie_pipeline.sync import invoices as issuing
from omie_pipeline.sync.invoice_status import RefreshSettings, refresh_statuses
from omie_pipeline.sync.invoices import Outcome, issue_invoices
from support.simulated_omie import client_for

from .conftest import FAST, REDUNDANT_SECONDS, Account, calls, prepare_account, settle_prefeitura


class Crash(Exception):
    """Stands for the process dying at a chosen point (caught per deal, like any failure)."""


class HardCrash(BaseException):
    """Stands for a kill: nothing in the run catches it, so its claims stay until their lease ends."""


def crash_on(
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    when: Callable[..., bool],
    error: type[BaseException] = Crash,
    times: int = 1,
) -> list[str]:
    """Make `sync.invoices.<name>` raise `error` the first `times` it is called with arguments matching `when`."""
    original = getattr(issuing, name)
    crashed: list[str] = []

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if len(crashed) < times and when(*args, **kwargs):
            crashed.append(name)
            raise error(f"crash in {name}")
        return original(*args, **kwargs)

    monkeypatch.setattr(issuing, name, wrapper)
    return crashed


def finish(account: Account, deal_ids: list[str], reruns: int = 2) -> None:
    """Rerun issuing, let the prefeitura answer, refresh, and check Omie holds one OS and NFS-e per deal."""
    for _ in range(reruns):
        account.issue()
    settle_prefeitura(account.sim)
    settings = RefreshSettings(redundant_interval=timedelta(0))
    refresh_statuses(account.client, account.store, account.name, settings=settings)
    for deal_id in deal_ids:
        assert account.invoice(deal_id).status == InvoiceStatus.ISSUED, deal_id
    account.assert_exactly_once(deal_ids)
    with account.sim.state.lock:
        invoiced = [order for order in account.sim.state.orders.values() if order.faturada]
    assert len(invoiced) == len(deal_ids)
    assert len(account.sim.state.nfses) == len(deal_ids)
    assert account.sim.stats()["rejected"]["redundant"] == 0


def test_lost_include_answer_is_adopted_not_resent(account: Account) -> None:
    deal_ids = account.add_deals(3)
    account.sim.set_faults(lose_response_next=1, methods=["IncluirOS"])

    summary = account.issue(workers=1)

    assert account.sim.stats()["faults_injected"]["lose_response"] == 1
    first = summary.of(deal_ids[0])
    assert first.outcome is Outcome.SUBMITTED and "found by key" in account_history(account, deal_ids[0])
    assert calls(account.sim)["IncluirOS"] == 3  # the lost one was looked up, not sent again
    finish(account, deal_ids)


def test_lost_include_answer_and_failed_look_up_wait_for_the_next_run(account: Account) -> None:
    deal_ids = account.add_deals(2)
    account.sim.set_faults(lose_response_next=1, methods=["IncluirOS"])
    account.sim.set_faults(http_500_next=20, methods=["ConsultarOS"])

    summary = account.issue(workers=1)

    assert summary.of(deal_ids[0]).outcome is Outcome.UNKNOWN
    assert account.invoice(deal_ids[0]).omie_os_id is None  # nothing known: nothing stored, nothing resent
    assert account.invoice(deal_ids[0]).claimed_by is None
    account.sim.set_faults(clear=True)
    rerun = account.issue()
    assert rerun.of(deal_ids[0]).outcome is Outcome.SUBMITTED  # found by the look-up, adopted, invoiced
    assert calls(account.sim)["IncluirOS"] == 2
    finish(account, deal_ids)


def test_crash_after_the_intent_before_the_answer_is_stored(account: Account, monkeypatch) -> None:
    deal_ids = account.add_deals(3)
    crashed = crash_on(
        monkeypatch, "update_claimed", lambda connection, invoice, claimer, values: "omie_os_id" in values, times=3
    )

    summary = account.issue()

    assert crashed == ["update_claimed"] * 3
    assert {summary.of(deal).outcome for deal in deal_ids} == {Outcome.FAILED}
    assert all(account.invoice(deal).omie_os_id is None for deal in deal_ids)
    assert len(account.orders_by_key()) == 3  # Omie applied every IncluirOS
    monkeypatch.undo()
    rerun = account.issue()
    assert {rerun.of(deal).outcome for deal in deal_ids} == {Outcome.SUBMITTED}
    assert calls(account.sim)["IncluirOS"] == 3
    finish(account, deal_ids)


def test_killed_run_keeps_its_claim_until_the_lease_ends(account: Account, monkeypatch) -> None:
    (deal,) = account.add_deals(1)
    crash_on(
        monkeypatch,
        "update_claimed",
        lambda connection, invoice, claimer, values: "omie_os_id" in values,
        error=HardCrash,
    )
    with pytest.raises(HardCrash):
        account.issue(workers=1)
    monkeypatch.undo()
    assert account.invoice(deal).claimed_by is not None

    assert account.issue().results == []  # within the lease the claim holder may still be running
    assert calls(account.sim)["IncluirOS"] == 1

    taken_over = account.issue(claim_lease=timedelta(0))
    assert taken_over.of(deal).outcome is Outcome.SUBMITTED
    finish(account, [deal])


def test_crash_after_the_os_before_invoicing(account: Account, monkeypatch) -> None:
    deal_ids = account.add_deals(2)
    original = account.client.validate_os

    def crash(**key: Any) -> None:
        raise Crash("crash between IncluirOS and ValidarOS")

    monkeypatch.setattr(account.client, "validate_os", crash)

    summary = account.issue()

    assert {summary.of(deal).outcome for deal in deal_ids} == {Outcome.FAILED}
    assert all(account.invoice(deal).omie_os_id is not None for deal in deal_ids)
    assert account.invoiced_orders() == 0
    monkeypatch.setattr(account.client, "validate_os", original)
    rerun = account.issue()
    assert {rerun.of(deal).outcome for deal in deal_ids} == {Outcome.SUBMITTED}
    assert calls(account.sim)["IncluirOS"] == 2 and calls(account.sim)["FaturarOS"] == 2
    finish(account, deal_ids)


def test_crash_after_invoicing_before_it_is_recorded(account: Account, monkeypatch) -> None:
    deal_ids = account.add_deals(2)
    crash_on(
        monkeypatch, "update_claimed", lambda connection, invoice, claimer, values: "submitted_at" in values, times=2
    )

    summary = account.issue()

    assert {summary.of(deal).outcome for deal in deal_ids} == {Outcome.FAILED}
    assert account.invoiced_orders() == 2 and all(account.invoice(d).submitted_at is None for d in deal_ids)
    monkeypatch.undo()
    rerun = account.issue()
    assert {rerun.of(deal).outcome for deal in deal_ids} == {Outcome.ADOPTED}  # found invoiced, adopted
    assert calls(account.sim)["FaturarOS"] == 2  # never invoiced twice
    finish(account, deal_ids)


def test_os_invoiced_in_omie_before_its_id_was_recorded_is_adopted_as_it_is(account: Account) -> None:
    (deal,) = account.add_deals(1)
    account.sim.set_faults(lose_response_next=1, methods=["IncluirOS"])
    account.sim.set_faults(http_500_next=20, methods=["ConsultarOS"])
    assert account.issue().of(deal).outcome is Outcome.UNKNOWN
    account.sim.set_faults(clear=True)
    account.client.invoice_os(cCodIntOS=account.invoice(deal).idempotency_key)  # someone invoiced it in Omie
    settle_prefeitura(account.sim)

    rerun = account.issue()

    assert rerun.of(deal).outcome is Outcome.ADOPTED
    assert account.invoice(deal).status == InvoiceStatus.ISSUED  # its exact state, read with StatusOS
    assert calls(account.sim)["FaturarOS"] == 1 and "ValidarOS" not in calls(account.sim)
    finish(account, [deal])


def test_a_restored_store_finds_the_os_by_key_before_sending_and_adopts(account: Account) -> None:
    (deal,) = account.add_deals(1)
    account.issue()
    with account.store.begin() as connection:  # the store restored from a backup taken before the emission
        connection.execute(sa.delete(invoices).where(invoices.c.deal_id == deal))
        connection.execute(sa.delete(invoice_events).where(invoice_events.c.deal_id == deal))

    rerun = account.issue()

    assert rerun.of(deal).outcome is Outcome.ADOPTED
    assert "found in Omie by key before sending" in account_history(account, deal)
    assert calls(account.sim)["IncluirOS"] == 1 and calls(account.sim)["FaturarOS"] == 1
    assert account.sim.stats()["errors"].get("IncluirOS", 0) == 0
    finish(account, [deal])


def test_a_key_sent_by_another_process_after_the_look_up_meets_omies_duplicate_and_adopts(
    account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    (deal,) = account.add_deals(1)
    account.issue()
    with account.store.begin() as connection:
        connection.execute(sa.delete(invoices).where(invoices.c.deal_id == deal))
        connection.execute(sa.delete(invoice_events).where(invoice_events.c.deal_id == deal))
    monkeypatch.setattr(account.client, "list_os", lambda **_: iter(()))  # the OS came after the look-up
    time.sleep(REDUNDANT_SECONDS)  # sooner, Omie would refuse the identical IncluirOS as redundant instead

    rerun = account.issue()

    assert rerun.of(deal).outcome is Outcome.ADOPTED
    assert "Omie already holds this key" in account_history(account, deal)
    assert calls(account.sim)["IncluirOS"] == 2 and calls(account.sim)["FaturarOS"] == 1
    monkeypatch.undo()
    finish(account, [deal])


def test_lost_invoicing_answer_is_settled_by_a_look_up(account: Account) -> None:
    deal_ids = account.add_deals(2)
    account.sim.set_faults(lose_response_next=1, methods=["FaturarOS"])

    summary = account.issue(workers=1)

    assert summary.of(deal_ids[0]).outcome is Outcome.ADOPTED
    assert calls(account.sim)["FaturarOS"] == 2
    finish(account, deal_ids)


def test_two_runs_at_once_issue_each_deal_once(account: Account, db_url: str) -> None:
    deal_ids = account.add_deals(12)
    stores = [Store(db_url), Store(db_url)]
    clients = [client_for(account.sim), client_for(account.sim)]
    summaries: list[Any] = [None, None]
    start = threading.Barrier(2)

    def run(index: int) -> None:
        start.wait()
        summaries[index] = issue_invoices(
            clients[index], stores[index], account.name, settings=account.settings(workers=3), claimer=f"run-{index}"
        )

    threads = [threading.Thread(target=run, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for store in stores:
        store.dispose()

    sent = [
        result.deal_id for summary in summaries for result in summary.results if result.outcome is Outcome.SUBMITTED
    ]
    assert sorted(sent) == sorted(deal_ids)  # each deal sent by exactly one of the two runs
    assert calls(account.sim)["IncluirOS"] == 12 and calls(account.sim)["FaturarOS"] == 12
    finish(account, deal_ids)


def test_slow_answers_keep_up_to_four_emission_calls_in_flight_and_issue_each_deal_once(store: Store, make_sim) -> None:
    """When Omie takes its time to answer, the emission writes go several at a time (never more
    than Omie's 4), each intent still claimed before its call: one OS and one NFS-e per deal."""
    sim = make_sim(**{**FAST, "latency": (0.1, 0.1)})
    account = prepare_account(store, sim)
    try:
        deal_ids = account.add_deals(16)

        summary = account.issue(workers=12)

        assert summary.count(Outcome.SUBMITTED) == 16
        stats = sim.stats()
        assert stats["rejected"]["concurrency"] == 0
        for method in ("IncluirOS", "FaturarOS"):
            assert 1 < stats["peak_concurrency"][method] <= 4, (method, stats["peak_concurrency"])
        assert calls(sim)["IncluirOS"] == 16 and calls(sim)["FaturarOS"] == 16
        finish(account, deal_ids)
    finally:
        account.client.close()


def account_history(account: Account, deal_id: str) -> str:
    from omie_pipeline.store.invoices import events_of

    with account.store.connect() as connection:
        return "\n".join(event.detail or "" for event in events_of(connection, account.name, deal_id))


def test_a_duplicate_key_refused_in_http_200_in_another_wording_is_looked_up_and_adopted(account: Account) -> None:
    (deal,) = account.add_deals(1)
    account.issue()
    with account.store.begin() as connection:  # the store restored from a backup taken before the emission
        connection.execute(sa.delete(invoices).where(invoices.c.deal_id == deal))
        connection.execute(sa.delete(invoice_events).where(invoice_events.c.deal_id == deal))
    time.sleep(REDUNDANT_SECONDS)
    account.sim.set_faults(duplicate_refusal_next=1)  # "... está em uso ...", cCodStatus "1" inside HTTP 200

    rerun = account.issue()

    assert rerun.of(deal).outcome is Outcome.ADOPTED
    assert "ConsultarOS" in calls(account.sim) and calls(account.sim)["FaturarOS"] == 1
    with account.store.connect() as connection:
        assert open_invoice_issues(connection, account.name, deal) == []
    finish(account, [deal])


def test_an_intent_another_run_dropped_after_the_look_up_is_not_taken_for_the_row_that_reuses_its_id(
    account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between its look-up and its send, a run's intent is free: another run may drop it (Omie holds
    nothing under its key) and record a newer deal, which SQLite would store under the freed row id
    but for AUTOINCREMENT. The first run must not claim the newer row as its intent, nor write its own
    OS into it."""
    (first,) = account.add_deals(1)
    send_new = issuing._Run.send_new
    other_run: list[Any] = []

    def another_run_first(run: Any, intent: Any, *args: Any) -> Any:
        if run.claimer != "run-B" and not other_run:
            (second,) = account.add_deals(1)
            other_run.append(
                issue_invoices(
                    client_for(account.sim), account.store, account.name, claimer="run-B", only_deals=[second]
                )
            )
        return send_new(run, intent, *args)

    monkeypatch.setattr(issuing._Run, "send_new", another_run_first)
    summary = account.issue()
    monkeypatch.undo()

    second = account.deal_ids[1]
    assert other_run[0].of(first).outcome is Outcome.RESTARTED
    assert other_run[0].of(second).outcome is Outcome.SUBMITTED
    assert summary.of(first).outcome is Outcome.SKIPPED
    assert account.orders_by_key()[account.invoice(second).idempotency_key] == [account.invoice(second).omie_os_id]
    finish(account, [first, second])


def test_an_intent_another_run_dropped_and_recorded_again_is_not_sent_from_the_first_runs_look_up(
    account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other run drops the intent and records the same deal again, under the same key, and sends
    it. The first run's look-up is stale: it must not send that key a second time."""
    (deal,) = account.add_deals(1)
    send_new = issuing._Run.send_new
    other_run: list[Any] = []

    def another_run_first(run: Any, intent: Any, *args: Any) -> Any:
        if run.claimer != "run-B" and not other_run:
            other_run.append(issue_invoices(client_for(account.sim), account.store, account.name, claimer="run-B"))
        return send_new(run, intent, *args)

    monkeypatch.setattr(issuing._Run, "send_new", another_run_first)
    summary = account.issue()
    monkeypatch.undo()

    assert [result.outcome for result in other_run[0].results] == [Outcome.RESTARTED, Outcome.SUBMITTED]
    assert summary.of(deal).outcome is Outcome.SKIPPED
    assert calls(account.sim)["IncluirOS"] == 1
    finish(account, [deal])
