"""Sales that change after invoicing: a deal reopened (or lost, or changed in amount) after its NFS-e
was issued becomes an open issue and one alert to finance with the exact cancel command; nothing is
cancelled automatically, and the issue closes once the deal is closed again as invoiced."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from omie_pipeline.alerts.channels import LogChannel
from omie_pipeline.alerts.delivery import DeliveryPolicy, DeliveryRound
from omie_pipeline.alerts.messages import AMOUNT_CHANGED, REOPENED
from omie_pipeline.alerts.model import AlertKind
from omie_pipeline.alerts.watch import check_changed_sales
from omie_pipeline.domain.invoice_status import InvoiceStatus
from omie_pipeline.store.deals import open_issues
from omie_pipeline.store.sale_changes import SALE_STAGE
from omie_pipeline.store.tables import deals
from omie_pipeline.sync.deal_changes import detect_sale_changes
from omie_pipeline.sync.invoice_actions import wait_for_invoice

from .conftest import Account, calls, calls_since


def _issued_deal(account: Account) -> str:
    (deal_id,) = account.add_deals(1)
    account.issue()
    invoice = wait_for_invoice(
        account.client, account.store, account.name, deal_id, timeout=10, interval=account.interval
    ).invoice
    assert invoice.status == InvoiceStatus.ISSUED
    return deal_id


def _crm_changes(account: Account, deal_id: str, **values: Any) -> None:
    with account.store.begin() as connection:
        connection.execute(
            sa.update(deals)
            .where(deals.c.account == account.name, deals.c.deal_id == deal_id)
            .values(updated_at=datetime.now(UTC), **values)
        )


def _sale_issues(account: Account) -> list:
    with account.store.connect() as connection:
        return open_issues(connection, account.name, stage=SALE_STAGE)


def _alerts(account: Account) -> list:
    return check_changed_sales(
        account.store, DeliveryRound([LogChannel()], DeliveryPolicy()), datetime.now(UTC), home_account=account.name
    )


def test_a_deal_reopened_after_its_note_was_issued_is_one_issue_and_one_alert_and_nothing_is_cancelled(
    account: Account,
) -> None:
    deal_id = _issued_deal(account)
    note = account.invoice(deal_id).nfse_number
    _crm_changes(account, deal_id, status="lost", is_valid=False)
    before = calls(account.sim)

    found = detect_sale_changes(account.store, account.name)
    detect_sale_changes(account.store, account.name)  # a later run sees the same change: still one issue
    alerts = _alerts(account)

    assert found.changed == {deal_id: [REOPENED]}
    (issue,) = _sale_issues(account)
    assert issue.deal_id == deal_id and issue.reason == REOPENED and "'lost'" in issue.message
    assert f"omie-pipeline invoices cancel {deal_id} --reason 'Sale undone in the CRM" in issue.fix
    assert "15 to 255 characters" in issue.fix and "CancelarOS takes no reason" in issue.fix
    (alert,) = alerts
    assert alert.kind is AlertKind.SALE_CHANGED and alert.deal_id == deal_id and note in alert.summary
    assert f"omie-pipeline invoices cancel {deal_id} --reason 'Sale undone in the CRM" in alert.commands[1]
    assert any("nothing was cancelled automatically" in step for step in alert.next_steps)
    assert _alerts(account) == [], "one alert per note"
    assert "CancelarOS" not in calls_since(account.sim, before)
    invoice = account.invoice(deal_id)
    assert invoice.status == InvoiceStatus.ISSUED and invoice.cancel_requested_at is None
    with account.sim.state.lock:
        assert not account.sim.state.orders[invoice.omie_os_id].cancelada


def test_an_amount_changed_after_issue_says_cancel_then_reissue_and_closes_when_the_crm_is_set_back(
    account: Account,
) -> None:
    deal_id = _issued_deal(account)
    invoiced = account.invoice(deal_id).gross_amount
    _crm_changes(account, deal_id, amount=invoiced + Decimal("500.00"))

    assert detect_sale_changes(account.store, account.name).changed == {deal_id: [AMOUNT_CHANGED]}
    (issue,) = _sale_issues(account)
    assert f"omie-pipeline invoices reissue {deal_id}" in issue.fix and issue.raw_value == str(invoiced + 500)
    (alert,) = _alerts(account)
    assert any(f"invoices reissue {deal_id}" in step for step in alert.next_steps)

    _crm_changes(account, deal_id, amount=invoiced)
    closed = detect_sale_changes(account.store, account.name)

    assert closed.changed == {} and closed.resolved == 1 and _sale_issues(account) == []
