"""Issuing invoices exactly once (sync/invoices.py and its helpers), on the in-memory Omie."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import sqlalchemy as sa

from omie_pipeline.omie import errors
from omie_pipeline.store.invoices import open_invoice_issues
from omie_pipeline.store.tables import deals
from omie_pipeline.sync.invoice_payload import OrderFacts, build_order, order_description, withholding_text
from omie_pipeline.sync.invoices import Outcome, default_claimer, intent_row, prepare_invoice
from omie_pipeline.sync.omie_tax_capture import keep_omie_taxes
from omie_pipeline.sync.omie_taxes import figures_from_nfse, figures_from_os
from omie_pipeline.sync.waiting import WaitingDeals, note_waiting, read_waiting

from .conftest import ACCOUNT, Books


def _deal_row(books: Books, deal_id: str) -> dict:
    with books.store.connect() as connection:
        return dict(connection.execute(sa.select(deals).where(deals.c.deal_id == deal_id)).mappings().one())


def test_a_deal_becomes_one_invoiced_os_and_a_second_run_sends_nothing(books: Books) -> None:
    deal_id = books.add_deal(amount=Decimal("1000.00"))

    first = books.issue()
    second = books.issue()

    assert first.of(deal_id).outcome is Outcome.SUBMITTED
    assert second.results == []
    invoice = books.invoice(deal_id)
    order = books.fake.orders[invoice.omie_os_id]
    assert order.key == invoice.idempotency_key and order.invoiced is not None
    assert books.fake.calls["IncluirOS"] == 1 and books.fake.calls["FaturarOS"] == 1
    item = order.sent["ServicosPrestados"][0]
    assert Decimal(str(item["nValUnit"])) == Decimal("1000.00")


def test_a_lost_incluiros_answer_is_settled_by_looking_the_key_up_never_by_sending_again(books: Books) -> None:
    deal_id = books.add_deal()
    books.fake.lose_answer("IncluirOS")

    summary = books.issue()

    assert summary.of(deal_id).outcome is Outcome.SUBMITTED
    assert books.fake.calls["IncluirOS"] == 1
    assert len(books.fake.orders) == 1
    assert books.invoice(deal_id).omie_os_id == next(iter(books.fake.orders))


def test_an_os_omie_already_holds_under_the_key_is_adopted(books: Books) -> None:
    deal_id = books.add_deal()
    books.fake.fail_next(
        "IncluirOS", errors.AlreadyExistsError("Ordem de Serviço já cadastrada", method="IncluirOS"), applied=True
    )

    summary = books.issue()

    assert summary.of(deal_id).outcome is Outcome.SUBMITTED
    assert len(books.fake.orders) == 1 and books.fake.calls["FaturarOS"] == 1


def test_a_refused_faturaros_puts_the_invoice_in_error_with_omie_s_words_and_a_fix(books: Books) -> None:
    deal_id = books.add_deal()
    books.fake.fail_next(
        "FaturarOS", errors.RefusedError("Conta bloqueada para faturamento", method="FaturarOS", status_code="1")
    )

    summary = books.issue()

    assert summary.of(deal_id).outcome is Outcome.ERROR
    invoice = books.invoice(deal_id)
    assert invoice.status == "error"
    assert "Conta bloqueada para faturamento" in invoice.last_error and invoice.fix


def test_already_invoiced_refusal_adopts_the_os_state_instead_of_an_error(books: Books) -> None:
    deal_id = books.add_deal()
    books.fake.fail_next(
        "FaturarOS", errors.RefusedError("A OS 000001 já foi faturada!", method="FaturarOS"), applied=True
    )

    summary = books.issue()

    assert summary.of(deal_id).outcome is Outcome.ADOPTED
    assert books.invoice(deal_id).status == "processing"


def test_a_throttled_incluiros_leaves_the_deal_for_a_later_run_and_the_next_run_sends_it(books: Books) -> None:
    deal_id = books.add_deal()
    books.fake.fail_next("IncluirOS", errors.ThrottledError("Aguarde 1 segundos", method="IncluirOS", retry_after=1.0))

    waiting = books.issue()
    with books.store.connect() as connection:
        noted = read_waiting(connection, ACCOUNT)
    later = books.issue()

    assert waiting.of(deal_id).outcome is Outcome.WAITING
    assert noted is not None and noted.deal_ids == (deal_id,) and "IncluirOS" in noted.describe()
    assert later.of(deal_id).outcome is Outcome.SUBMITTED
    assert len(books.fake.orders) == 1
    with books.store.connect() as connection:
        assert read_waiting(connection, ACCOUNT) is None, "the run that sent it replaced the note"


def test_the_waiting_note_round_trips_and_an_empty_one_reads_as_none(books: Books) -> None:
    at = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
    with books.store.begin() as connection:
        note_waiting(connection, ACCOUNT, WaitingDeals(("D-1", "D-2"), {"IncluirOS": "misuse guard"}, at, at))
    with books.store.connect() as connection:
        assert read_waiting(connection, ACCOUNT) == WaitingDeals(("D-1", "D-2"), {"IncluirOS": "misuse guard"}, at, at)
    with books.store.begin() as connection:
        note_waiting(connection, ACCOUNT, WaitingDeals((), {}, None, at))
    with books.store.connect() as connection:
        assert read_waiting(connection, ACCOUNT) is None


def test_a_deal_without_a_client_link_waits_as_an_issue_and_omie_is_not_called(books: Books) -> None:
    deal_id = books.add_deal(link=False)

    summary = books.issue()

    assert summary.of(deal_id).outcome is Outcome.NOT_READY and "no Omie client" in summary.of(deal_id).detail
    assert books.fake.calls["IncluirOS"] == 0


def test_an_unmapped_product_is_an_issue_naming_the_deal_and_the_field(books: Books) -> None:
    deal_id = books.add_deal(product_code="NOT-MAPPED")

    summary = books.issue()

    assert summary.of(deal_id).outcome is Outcome.NOT_READY
    with books.store.connect() as connection:
        issues = open_invoice_issues(connection, ACCOUNT, deal_id)
    assert issues and all(deal_id in issue["message"] for issue in issues)
    assert {issue["field"] for issue in issues} == {"product_code"}
    assert books.fake.calls["IncluirOS"] == 0


def test_prepare_invoice_then_intent_row_carry_the_key_the_gross_and_the_rates(books: Books) -> None:
    deal_id = books.add_deal(amount=Decimal("2000.00"))
    now = datetime.now(UTC)

    with books.store.connect() as connection:
        prepared = prepare_invoice(connection, ACCOUNT, _deal_row(books, deal_id), books.client_id, now)
    claimer = default_claimer()
    row = intent_row(ACCOUNT, prepared, claimer, now)

    assert prepared.breakdown.gross == Decimal("2000.00")
    assert row["deal_id"] == deal_id and row["idempotency_key"] and row["claimed_by"] == claimer
    assert default_claimer() != claimer  # each run claims under a name of its own
    with books.store.connect() as connection:
        missing = prepare_invoice(
            connection, ACCOUNT, {**_deal_row(books, deal_id), "amount": None}, books.client_id, now
        )
    assert isinstance(missing, list) and any(issue.field == "amount" for issue in missing)


def test_the_order_sent_says_the_withholdings_and_keeps_the_description(books: Books) -> None:
    deal_id = books.add_deal(amount=Decimal("1000.00"))
    with books.store.connect() as connection:
        prepared = prepare_invoice(connection, ACCOUNT, _deal_row(books, deal_id), books.client_id, datetime.now(UTC))
    facts = OrderFacts(
        "KEY-1",
        books.client_id,
        prepared.service.service_id,
        "Consultoria",
        "Deal text",
        "ap@cliente.com",
        prepared.breakdown,
    )
    order = build_order(facts, date(2026, 11, 3))

    assert order["Cabecalho"]["cCodIntOS"] == "KEY-1" and order["Cabecalho"]["dDtPrevisao"] == "03/11/2026"
    assert order_description(facts) == "Deal text"
    assert "IRRF" in withholding_text(prepared.breakdown)
    assert order["InformacoesAdicionais"]["cDadosAdicNF"].endswith(withholding_text(prepared.breakdown))


def test_omie_s_computed_taxes_are_kept_from_the_os_and_from_the_note(books: Books) -> None:
    deal_id = books.add_deal(amount=Decimal("1000.00"))
    books.issue()
    invoice = books.invoice(deal_id)

    record = books.fake.get_os(nCodOS=invoice.omie_os_id)
    assert figures_from_os(record).amounts["iss"] == Decimal("20.00")
    assert keep_omie_taxes(
        books.fake, books.store, ACCOUNT, deal_id, invoice.idempotency_key, lambda: datetime.now(UTC)
    )
    books.fake.issue_note(invoice.omie_os_id)
    (note,) = books.fake.list_nfse(date(2000, 1, 1), date(2100, 1, 1))
    assert figures_from_nfse(note).amounts["iss"] == Decimal("20.00")

    books.fake.fail_next("ConsultarOS", errors.TransientError("Omie fora do ar", method="ConsultarOS"))
    assert not keep_omie_taxes(
        books.fake, books.store, ACCOUNT, deal_id, invoice.idempotency_key, lambda: datetime.now(UTC)
    )
