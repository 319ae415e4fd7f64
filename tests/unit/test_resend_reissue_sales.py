"""Fix and resend, reissue, and sales that change after invoicing (sync/invoice_resend.py,
sync/invoice_reissue.py, sync/deal_changes.py), on the in-memory Omie."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from omie_pipeline.alerts.messages import AMOUNT_CHANGED, REOPENED
from omie_pipeline.domain.invoice_status import InvoiceStatus
from omie_pipeline.domain.keys import invoice_idempotency_key
from omie_pipeline.store.tables import deals, invoices
from omie_pipeline.sync.deal_changes import detect_sale_changes
from omie_pipeline.sync.invoice_payload import OrderFacts, build_order, correction_order
from omie_pipeline.sync.invoice_reissue import ReissueNotAllowedError, reissue_invoice
from omie_pipeline.sync.invoice_resend import NothingChangedError, resend_changed_invoices, resend_invoice
from omie_pipeline.sync.invoices import InvoiceSteps, IssueSettings, Outcome, prepare_invoice

from .conftest import ACCOUNT, Books

SETTINGS = IssueSettings(redundant_interval=timedelta(0), workers=1)


def _steps(books: Books) -> InvoiceSteps:
    return InvoiceSteps(books.fake, books.store, ACCOUNT, SETTINGS)


def _rejected(books: Books) -> str:
    deal_id = books.add_deal()
    books.issue()
    books.fake.reject_note(
        books.invoice(deal_id).omie_os_id, "Município do tomador não corresponde ao CEP", code="E0116"
    )
    with books.store.begin() as connection:  # the status refresh saw the rejection
        connection.execute(
            sa.update(invoices)
            .where(invoices.c.deal_id == deal_id)
            .values(status="error", status_changed_at=datetime.now(UTC), last_error="E0116: Município do tomador")
        )
    return deal_id


def _crm(books: Books, deal_id: str, **values) -> None:
    with books.store.begin() as connection:
        connection.execute(
            sa.update(deals).where(deals.c.deal_id == deal_id).values(updated_at=datetime.now(UTC), **values)
        )


def test_the_correction_names_the_os_by_its_id_and_its_line_by_nseqitem(books: Books) -> None:
    deal_id = books.add_deal()
    with books.store.connect() as connection:
        deal = connection.execute(sa.select(deals).where(deals.c.deal_id == deal_id)).mappings().one()
        prepared = prepare_invoice(connection, ACCOUNT, deal, books.client_id, datetime.now(UTC))
    facts = OrderFacts(
        "OSKEY", books.client_id, prepared.service.service_id, "Consultoria", None, None, prepared.breakdown
    )

    order = correction_order(facts, 77, date(2026, 12, 4))

    assert order["Cabecalho"]["nCodOS"] == 77 and "cCodIntOS" not in order["Cabecalho"]
    assert "cEtapa" not in order["Cabecalho"], "a billed OS keeps its stage"
    assert order["ServicosPrestados"][0]["nSeqItem"] == 1 and order["ServicosPrestados"][0]["cAcaoItem"] == "A"
    assert (
        order["ServicosPrestados"][0]["impostos"]
        == build_order(facts, date(2026, 12, 4))["ServicosPrestados"][0]["impostos"]
    )


def test_a_rejected_invoice_fixed_in_the_crm_is_corrected_and_billed_again_once(books: Books) -> None:
    deal_id = _rejected(books)
    with pytest.raises(NothingChangedError, match="fix the client's data"):
        resend_invoice(_steps(books), deal_id, requested_by="ana")
    _crm(books, deal_id, amount=Decimal("1200.00"))

    results = resend_changed_invoices(_steps(books))

    assert [(result.deal_id, result.outcome) for result in results] == [(deal_id, Outcome.RESENT)]
    invoice = books.invoice(deal_id)
    assert invoice.status == InvoiceStatus.PROCESSING and invoice.billing_attempt == 2
    assert invoice.gross_amount == Decimal("1200.00"), "the invoice follows the corrected order"
    order = books.fake.orders[invoice.omie_os_id]
    assert Decimal(str(order.sent["ServicosPrestados"][0]["nValUnit"])) == Decimal("1200.00")
    assert books.fake.calls["AlterarOS"] == 1 and books.fake.calls["FaturarOS"] == 2
    assert resend_changed_invoices(_steps(books)) == []


def test_reissue_sets_the_cancelled_note_aside_and_issues_the_next_under_its_own_key(books: Books) -> None:
    deal_id = books.add_deal()
    books.issue()
    first = books.invoice(deal_id)
    with pytest.raises(ReissueNotAllowedError, match="only a deal whose note was cancelled"):
        reissue_invoice(_steps(books), deal_id, requested_by="ana")
    with books.store.begin() as connection:
        connection.execute(sa.update(invoices).where(invoices.c.deal_id == deal_id).values(status="cancelled"))

    result = reissue_invoice(_steps(books), deal_id, requested_by="ana")

    assert result.outcome is Outcome.SUBMITTED
    second = books.invoice(deal_id)
    assert second.issue_number == 2 and second.idempotency_key == invoice_idempotency_key(ACCOUNT, deal_id, 2)
    assert second.omie_os_id != first.omie_os_id and len(books.fake.orders) == 2


def test_an_issued_sale_reopened_or_changed_in_amount_becomes_an_issue_and_nothing_is_cancelled(books: Books) -> None:
    reopened, repriced, untouched = books.add_deal(), books.add_deal(), books.add_deal()
    books.issue()
    for deal_id in (reopened, repriced, untouched):
        books.fake.issue_note(books.invoice(deal_id).omie_os_id)
    with books.store.begin() as connection:
        connection.execute(sa.update(invoices).values(status="issued"))
    _crm(books, reopened, status="lost", is_valid=False)
    _crm(books, repriced, amount=Decimal("999.00"))

    found = detect_sale_changes(books.store, ACCOUNT, closed_statuses={"won"})

    assert found.changed == {reopened: [REOPENED], repriced: [AMOUNT_CHANGED]}
    assert books.fake.calls["CancelarOS"] == 0
