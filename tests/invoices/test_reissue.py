"""Reissue: a deal whose note was cancelled and that is closed again gets a new NFS-e only on request,
on a new OS whose integration code is derived from the note's number; the cancelled note is kept."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from omie_pipeline.domain.invoice_status import InvoiceStatus
from omie_pipeline.domain.keys import invoice_idempotency_key
from omie_pipeline.store.tables import deals, reissued_invoices
from omie_pipeline.sync.invoice_actions import cancel_invoice, wait_for_invoice
from omie_pipeline.sync.invoice_reissue import ReissueNotAllowedError, reissue_invoice
from omie_pipeline.sync.invoices import Outcome

from .conftest import Account, calls, calls_since

REASON = "Sale undone in the CRM after the note was issued"


def _settled(account: Account, deal_id: str):
    return wait_for_invoice(
        account.client, account.store, account.name, deal_id, timeout=10, interval=account.interval
    ).invoice


def _cancelled_deal(account: Account) -> str:
    (deal_id,) = account.add_deals(1)
    account.issue()
    assert _settled(account, deal_id).status == InvoiceStatus.ISSUED
    result = cancel_invoice(
        account.client,
        account.store,
        account.name,
        deal_id,
        reason=REASON,
        requested_by="ana",
        interval=account.interval,
        confirm_timeout=5,
    )
    assert result.confirmed
    return deal_id


def _crm(account: Account, deal_id: str, **values) -> None:
    with account.store.begin() as connection:
        connection.execute(
            sa.update(deals)
            .where(deals.c.account == account.name, deals.c.deal_id == deal_id)
            .values(updated_at=datetime.now(UTC), **values)
        )


def reissue(account: Account, deal_id: str):
    return reissue_invoice(account.steps(), deal_id, requested_by="ana")


def test_a_cancelled_note_of_a_deal_closed_again_is_reissued_on_request_under_a_derived_key(account: Account) -> None:
    deal_id = _cancelled_deal(account)
    first = account.invoice(deal_id)
    _crm(account, deal_id, status="open", is_valid=False)  # reopened, then closed again
    with pytest.raises(ReissueNotAllowedError, match="not a valid closed deal"):
        reissue(account, deal_id)
    _crm(account, deal_id, status="won", is_valid=True)
    before = calls(account.sim)
    account.issue()
    assert "IncluirOS" not in calls_since(account.sim, before), "a cancelled note is not reissued by itself"

    result = reissue(account, deal_id)

    assert result.outcome is Outcome.SUBMITTED
    second = _settled(account, deal_id)
    assert second.status == InvoiceStatus.ISSUED and second.issue_number == 2
    assert second.idempotency_key == invoice_idempotency_key(account.name, deal_id, 2) != first.idempotency_key
    assert second.omie_os_id != first.omie_os_id and second.nfse_number != first.nfse_number
    orders = account.orders_by_key()
    assert orders[first.idempotency_key] == [first.omie_os_id] and orders[second.idempotency_key] == [second.omie_os_id]
    assert account.nfses_by_order() == {first.omie_os_id: 1, second.omie_os_id: 1}
    with account.store.connect() as connection:
        (kept,) = connection.execute(sa.select(reissued_invoices)).mappings().all()
    assert (kept["issue_number"], kept["nfse_number"], kept["cancel_reason"], kept["reissued_by"]) == (
        1,
        first.nfse_number,
        REASON,
        "ana",
    )
    with pytest.raises(ReissueNotAllowedError, match="only a deal whose note was cancelled"):
        reissue(account, deal_id)
    before = calls(account.sim)
    account.issue()
    assert "IncluirOS" not in calls_since(account.sim, before)


def test_a_status_answer_about_the_cancelled_note_never_lands_on_the_note_reissued_meanwhile(account: Account) -> None:
    """A refresh asks StatusOS about the cancelled note; before its answer is stored, the deal is
    reissued. The answer belongs to the note set aside: the new note stays as its own calls left it,
    and the refresh goes on."""
    deal_id = _cancelled_deal(account)

    reissued = account.refresh_while(deal_id, lambda: reissue(account, deal_id))

    assert reissued.outcome is Outcome.SUBMITTED
    second = account.invoice(deal_id)
    assert second.issue_number == 2 and second.status == InvoiceStatus.SUBMITTED
    assert second.cancelled_at is None and second.cancel_reason is None
    assert _settled(account, deal_id).status == InvoiceStatus.ISSUED
