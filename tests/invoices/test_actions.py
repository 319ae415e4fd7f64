"""Wait for and cancel one invoice, against the simulator (its documents: test_documents.py)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from omie_pipeline.domain.invoice_status import InvoiceStatus, UnknownOmieStatusError
from omie_pipeline.omie import errors
from omie_pipeline.store.invoices import events_of, reserve_check
from omie_pipeline.sync.invoice_actions import (
    CancelNotAllowedError,
    CancelRefusedError,
    InvoiceNotFoundError,
    WaitExit,
    already_cancelled,
    cancel_invoice,
    wait_for_invoice,
)
from omie_pipeline.sync.invoice_status import RefreshSettings, refresh_statuses

from .conftest import REDUNDANT_SECONDS, Account, calls, calls_since, settle_prefeitura

REASON = "Serviço não prestado: contrato rescindido pelo cliente"


def wait(account: Account, deal_id: str, timeout: float):
    return wait_for_invoice(
        account.client, account.store, account.name, deal_id, timeout=timeout, interval=account.interval
    )


def issued(account: Account, count: int = 1) -> list[str]:
    deal_ids = account.add_deals(count)
    account.issue()
    settle_prefeitura(account.sim)
    refresh_statuses(
        account.client, account.store, account.name, settings=RefreshSettings(redundant_interval=account.interval)
    )
    assert all(account.invoice(deal).status == InvoiceStatus.ISSUED for deal in deal_ids)
    return deal_ids


# --- wait ---------------------------------------------------------------------------------------


def test_wait_until_issued(account: Account) -> None:
    (deal,) = account.add_deals(1)
    account.issue()

    result = wait(account, deal, timeout=10)

    assert result.exit_code is WaitExit.ISSUED and not result.timed_out
    assert result.polls >= 1 and result.invoice.nfse_number
    assert account.sim.stats()["rejected"]["redundant"] == 0


def test_wait_until_error(account: Account) -> None:
    (deal,) = account.add_deals(1)
    account.sim.set_faults(prefeitura="reject")
    account.issue()

    result = wait(account, deal, timeout=10)

    assert result.exit_code is WaitExit.ERROR
    assert result.invoice.last_error and result.invoice.fix

    # Waiting again (after a resend from Omie, say) asks Omie once before answering "error".
    time.sleep(REDUNDANT_SECONDS)
    before = calls(account.sim)
    assert wait(account, deal, timeout=0).exit_code is WaitExit.ERROR
    assert calls_since(account.sim, before) == {"StatusOS": 1}


def test_wait_times_out_spacing_its_requests(account: Account) -> None:
    (deal,) = account.add_deals(1)
    account.sim.set_faults(prefeitura="stuck")
    account.issue()
    before = calls(account.sim)
    started = time.monotonic()

    result = wait(account, deal, timeout=1.6)

    elapsed = time.monotonic() - started
    assert result.exit_code is WaitExit.STILL_PROCESSING and result.timed_out
    assert elapsed >= 1.6
    # One request per interval at most: the simulator enforces Omie's redundancy rule and refused none.
    assert calls_since(account.sim, before) == {"StatusOS": result.polls}
    assert result.polls <= 1.6 / REDUNDANT_SECONDS + 1
    assert account.sim.stats()["rejected"]["redundant"] == 0
    assert result.invoice.status == InvoiceStatus.PROCESSING


def test_wait_for_a_deal_without_invoice(account: Account) -> None:
    with pytest.raises(InvoiceNotFoundError):
        wait(account, "no-such-deal", timeout=1)


# --- cancel -------------------------------------------------------------------------------------


def cancel(account: Account, deal_id: str, reason: str = REASON, confirm_timeout: float = 3.0):
    return cancel_invoice(
        account.client,
        account.store,
        account.name,
        deal_id,
        reason=reason,
        requested_by="maria.financeiro",
        interval=account.interval,
        confirm_timeout=confirm_timeout,
    )


def test_cancel_an_issued_invoice(account: Account) -> None:
    (deal,) = issued(account)

    result = cancel(account, deal)

    assert result.confirmed
    invoice = result.invoice
    assert invoice.status == InvoiceStatus.CANCELLED and invoice.cancelled_at is not None
    assert (invoice.cancel_reason, invoice.cancel_requested_by) == (REASON, "maria.financeiro")
    assert invoice.cancel_requested_at.replace(microsecond=0) <= invoice.cancelled_at  # Omie stamps to the second
    with account.sim.state.lock:
        order = account.sim.state.orders[invoice.omie_os_id]
        assert order.cancelada and account.sim.state.nfses[order.rps.n_cod_nf].status == "C"
    with account.store.connect() as connection:
        details = [event.detail for event in events_of(connection, account.name, deal)]
    assert f"cancellation requested by maria.financeiro: {REASON}" in details
    assert calls(account.sim)["CancelarOS"] == 1


def test_cancel_needs_an_issued_invoice_and_a_reason(account: Account) -> None:
    (deal,) = account.add_deals(1)
    account.sim.set_faults(prefeitura="stuck")
    account.issue()

    with pytest.raises(CancelNotAllowedError, match="only an issued invoice"):
        cancel(account, deal)
    with pytest.raises(ValueError, match="at least 15 characters"):
        cancel(account, deal, reason="mistake")
    assert "CancelarOS" not in calls(account.sim)
    assert account.invoice(deal).cancel_reason is None


def test_cancelled_only_when_omie_confirms(account: Account) -> None:
    (deal,) = issued(account)
    account.sim.set_faults(lose_response_next=1, methods=["CancelarOS"])

    result = cancel(account, deal, confirm_timeout=0)

    assert not result.confirmed
    assert result.invoice.status == InvoiceStatus.ISSUED and result.invoice.cancel_pending
    time.sleep(REDUNDANT_SECONDS)
    refresh_statuses(
        account.client, account.store, account.name, settings=RefreshSettings(redundant_interval=account.interval)
    )
    invoice = account.invoice(deal)
    assert invoice.status == InvoiceStatus.CANCELLED and not invoice.cancel_pending
    assert calls(account.sim)["CancelarOS"] == 1


def test_cancel_of_an_invoice_already_cancelled_in_omie_is_confirmed(account: Account) -> None:
    (deal,) = issued(account)
    account.client.cancel_os(nCodOS=account.invoice(deal).omie_os_id)  # done in Omie's screens
    time.sleep(REDUNDANT_SECONDS)

    result = cancel(account, deal)

    assert result.confirmed and result.invoice.status == InvoiceStatus.CANCELLED


def test_a_cancellation_refused_in_an_unknown_wording_asks_omie_before_it_is_withdrawn(
    account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """How Omie words "cancelled already" is unconfirmed: whatever the refusal says, the note's own
    status decides. Cancelled in Omie's screens, refused in a wording of its own: confirmed."""
    (deal,) = issued(account)
    account.client.cancel_os(nCodOS=account.invoice(deal).omie_os_id)  # done in Omie's screens
    time.sleep(REDUNDANT_SECONDS)

    def refused(**_: object) -> None:
        raise errors.RefusedError(
            "Operação não permitida para a situação atual da Ordem de Serviço.", method="CancelarOS", status_code="1"
        )

    monkeypatch.setattr(account.client, "cancel_os", refused)
    result = cancel(account, deal)

    assert result.confirmed and result.invoice.status == InvoiceStatus.CANCELLED
    assert result.invoice.cancel_reason == REASON


def test_a_refused_cancellation_waits_out_omies_interval_to_ask_the_notes_status(
    account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """StatusOS was asked about the note moments before the refusal: the command waits until Omie
    may be asked again rather than judge the refusal by the store alone."""
    (deal,) = issued(account)
    account.client.cancel_os(nCodOS=account.invoice(deal).omie_os_id)  # done in Omie's screens
    time.sleep(REDUNDANT_SECONDS)

    def refused(**_: object) -> None:
        invoice = account.invoice(deal)
        with account.store.begin() as connection:  # a status refresh asks StatusOS just before the refusal
            assert reserve_check(connection, invoice, datetime.now(UTC), account.interval)
        raise errors.RefusedError("Operação não permitida para a situação atual da Ordem de Serviço.")

    monkeypatch.setattr(account.client, "cancel_os", refused)
    result = cancel(account, deal)

    assert result.confirmed and result.invoice.status == InvoiceStatus.CANCELLED


@pytest.mark.parametrize("status_answer", ["issued", "unreadable"])
def test_a_refused_cancellation_of_a_note_omie_does_not_show_cancelled_is_withdrawn(
    account: Account, monkeypatch: pytest.MonkeyPatch, status_answer: str
) -> None:
    """Omie still shows the note issued, or its status answer cannot be read: the refusal stands."""
    (deal,) = issued(account)
    time.sleep(REDUNDANT_SECONDS)

    def refused(**_: object) -> None:
        raise errors.RefusedError("Cancelamento não permitido: ISS da nota já recolhido", method="CancelarOS")

    def unreadable(**_: object) -> None:
        raise UnknownOmieStatusError("cStatusRps 'X9' is not a status Omie documents")

    monkeypatch.setattr(account.client, "cancel_os", refused)
    if status_answer == "unreadable":
        monkeypatch.setattr(account.client, "os_status", unreadable)
    with pytest.raises(CancelRefusedError, match="ISS da nota já recolhido"):
        cancel(account, deal)

    invoice = account.invoice(deal)
    assert invoice.status == InvoiceStatus.ISSUED and not invoice.cancel_pending


@pytest.mark.parametrize(
    ("message", "cancelled"),
    [
        ("ERROR: A Ordem de Serviço [000012] já está cancelada!", True),
        ("A NFS-e 1234 JA ESTA CANCELADA", True),
        ("ERROR: A NFS-e já foi cancelada anteriormente.", True),
        ("A NFS-e não pode ser cancelada (prazo expirado)", False),
        ("ERROR: NFS-e não cancelada: o prazo de cancelamento de 30 dias terminou", False),
        ("Cancelamento não permitido: ISS da nota já recolhido", False),
    ],
)
def test_only_an_already_cancelled_answer_is_read_as_cancelled(message: str, cancelled: bool) -> None:
    """A refusal that merely speaks of cancelling must stay a refusal (CancelRefusedError, pending withdrawn)."""
    assert already_cancelled(message) is cancelled
