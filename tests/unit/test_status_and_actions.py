"""Following invoices after emission: the status refresh, wait, cancel and documents, on the in-memory Omie."""

from __future__ import annotations

from datetime import timedelta

import pytest

from omie_pipeline.omie import errors
from omie_pipeline.store.invoices import get_invoice_by_id
from omie_pipeline.sync.invoice_actions import (
    CancelNotAllowedError,
    CancelRefusedError,
    InvoiceNotFoundError,
    WaitExit,
    already_cancelled,
    cancel_invoice,
    check_cancel_reason,
    check_once,
    poll_invoice,
    requested_invoice,
    seconds_until_allowed,
    wait_for_invoice,
)
from omie_pipeline.sync.invoice_documents import (
    DocumentError,
    download_documents,
    download_pdf,
    download_xml,
    fresh_links,
    is_xml,
)
from omie_pipeline.sync.invoice_fixes import cancel_fix_for, fix_for, safe_message
from omie_pipeline.sync.invoice_status import RefreshSettings, parse_deal_ids, refresh_statuses

from .conftest import ACCOUNT, Books

NO_WAIT = timedelta(0)
REASON = "Serviço cobrado em duplicidade pelo cliente"


def _submitted(books: Books) -> tuple[str, int]:
    deal_id = books.add_deal()
    books.issue()
    return deal_id, books.invoice(deal_id).omie_os_id


def _issued(books: Books) -> tuple[str, int]:
    deal_id, os_id = _submitted(books)
    books.fake.issue_note(os_id)
    refresh_statuses(books.fake, books.store, ACCOUNT, settings=RefreshSettings(redundant_interval=NO_WAIT))
    assert books.invoice(deal_id).status == "issued"
    return deal_id, os_id


def test_the_refresh_settles_an_issued_note_from_the_listings_without_statusos(books: Books) -> None:
    deal_id, os_id = _submitted(books)
    books.fake.issue_note(os_id)

    summary = refresh_statuses(books.fake, books.store, ACCOUNT)

    invoice = books.invoice(deal_id)
    assert invoice.status == "issued" and invoice.nfse_number == str(books.fake.orders[os_id].note_id)
    assert summary.status_requests == 0 and books.fake.calls["StatusOS"] == 0


def test_a_rejected_rps_is_never_listed_so_statusos_settles_it_past_the_grace(books: Books) -> None:
    deal_id, os_id = _submitted(books)
    books.fake.reject_note(os_id, "Inscrição municipal do tomador inválida", "Corrija a inscrição municipal")

    within_grace = refresh_statuses(books.fake, books.store, ACCOUNT)
    past_grace = refresh_statuses(
        books.fake, books.store, ACCOUNT, settings=RefreshSettings(status_grace=NO_WAIT, redundant_interval=NO_WAIT)
    )

    assert within_grace.status_requests == 0
    assert past_grace.status_requests == 1
    invoice = books.invoice(deal_id)
    assert invoice.status == "error"
    assert "Inscrição municipal do tomador inválida" in invoice.last_error
    assert "municipal registration" in invoice.fix


def test_a_failing_statusos_is_counted_and_the_invoice_stays_as_it_was(books: Books) -> None:
    deal_id, _ = _submitted(books)
    books.fake.fail_next("StatusOS", errors.TransientError("Broken pipe", method="StatusOS"))

    summary = refresh_statuses(
        books.fake,
        books.store,
        ACCOUNT,
        recheck_deal_ids=parse_deal_ids(deal_id),
        settings=RefreshSettings(redundant_interval=NO_WAIT),
    )

    assert summary.failed == [deal_id]
    assert books.invoice(deal_id).status in ("submitted", "processing")


def test_parse_deal_ids_reads_commas_and_spaces() -> None:
    assert parse_deal_ids(" D1, D2 D3 ,,") == ["D1", "D2", "D3"]
    assert parse_deal_ids(None) == []


def test_wait_returns_issued_once_the_prefeitura_authorises(books: Books) -> None:
    deal_id, os_id = _submitted(books)
    polls: list[str] = []

    def authorise_on_first_poll(invoice) -> None:
        polls.append(invoice.status)
        if len(polls) == 1:
            books.fake.issue_note(os_id)

    result = wait_for_invoice(
        books.fake,
        books.store,
        ACCOUNT,
        deal_id,
        timeout=5,
        interval=NO_WAIT,
        sleep=lambda seconds: None,
        on_poll=authorise_on_first_poll,
    )

    assert result.exit_code is WaitExit.ISSUED and not result.timed_out
    assert result.polls == 2


def test_poll_gives_up_at_the_timeout_and_says_still_processing(books: Books) -> None:
    deal_id, _ = _submitted(books)

    result = poll_invoice(
        books.fake,
        books.store,
        ACCOUNT,
        deal_id,
        lambda invoice: invoice.status == "issued",
        timeout=0,
        interval=timedelta(hours=1),
        sleep=lambda seconds: None,
    )

    assert result.timed_out and result.exit_code is WaitExit.STILL_PROCESSING
    with pytest.raises(ValueError, match="timeout"):
        poll_invoice(books.fake, books.store, ACCOUNT, deal_id, bool, timeout=-1, interval=NO_WAIT)


def test_check_once_respects_omie_s_interval_per_os(books: Books) -> None:
    deal_id, _ = _submitted(books)
    invoice = books.invoice(deal_id)

    first = check_once(books.fake, books.store, invoice, timedelta(minutes=1))
    second = check_once(books.fake, books.store, books.invoice(deal_id), timedelta(minutes=1))

    assert first is not None and second is None
    assert books.fake.calls["StatusOS"] == 1


def test_the_wait_before_omie_may_be_asked_again_counts_from_the_last_question(books: Books) -> None:
    deal_id, _ = _submitted(books)
    never_asked = books.invoice(deal_id)
    check_once(books.fake, books.store, never_asked, timedelta(minutes=1))
    asked = books.invoice(deal_id)

    assert seconds_until_allowed(never_asked, timedelta(minutes=1), asked.last_checked_at) == 0
    assert seconds_until_allowed(asked, timedelta(minutes=1), asked.last_checked_at + timedelta(seconds=15)) == 45
    assert seconds_until_allowed(asked, timedelta(minutes=1), asked.last_checked_at + timedelta(minutes=2)) < 0


def test_cancel_an_issued_invoice_and_omie_confirms_it(books: Books) -> None:
    deal_id, os_id = _issued(books)

    result = cancel_invoice(
        books.fake, books.store, ACCOUNT, deal_id, reason=REASON, requested_by="finance", interval=NO_WAIT
    )

    assert result.confirmed and result.invoice.status == "cancelled"
    assert books.fake.orders[os_id].cancelled is not None
    assert books.fake.requests[-2] == ("CancelarOS", {"nCodOS": os_id, "cCancelarNfse": "S"})


def test_cancel_refused_by_omie_withdraws_the_request_and_gives_the_fix(books: Books) -> None:
    deal_id, _ = _issued(books)
    books.fake.fail_next("CancelarOS", errors.RefusedError("Prazo para cancelamento expirado", method="CancelarOS"))

    with pytest.raises(CancelRefusedError, match="Prazo para cancelamento expirado"):
        cancel_invoice(
            books.fake, books.store, ACCOUNT, deal_id, reason=REASON, requested_by="finance", interval=NO_WAIT
        )

    invoice = books.invoice(deal_id)
    assert invoice.status == "issued" and not invoice.cancel_pending


@pytest.mark.parametrize(
    ("message", "first_step", "asked_again"),
    [
        ("Prazo para cancelamento expirado", "the note can no longer be cancelled through Omie", False),
        ("Webservice da prefeitura indisponível", "nothing to correct in the invoice: wait", True),
        ("X999 algo novo", "inspect it with `omie-pipeline invoices show", True),
    ],
)
def test_a_refused_cancellation_says_how_to_cancel_never_to_bill_again(
    books: Books, message: str, first_step: str, asked_again: bool
) -> None:
    deal_id, _ = _issued(books)
    books.fake.fail_next("CancelarOS", errors.RefusedError(message, method="CancelarOS"))

    with pytest.raises(CancelRefusedError) as refused:
        cancel_invoice(
            books.fake, books.store, ACCOUNT, deal_id, reason=REASON, requested_by="finance", interval=NO_WAIT
        )

    assert refused.value.fix.startswith(first_step)
    assert "invoices retry" not in refused.value.fix and "invoices wait" not in refused.value.fix
    assert (f"omie-pipeline invoices cancel {deal_id} --reason" in refused.value.fix) is asked_again


def test_cancel_of_an_already_cancelled_os_confirms_instead_of_failing(books: Books) -> None:
    deal_id, os_id = _issued(books)
    books.fake.cancel_os(nCodOS=os_id)  # cancelled in Omie by a person

    result = cancel_invoice(
        books.fake, books.store, ACCOUNT, deal_id, reason=REASON, requested_by="finance", interval=NO_WAIT
    )

    assert already_cancelled("A Ordem de Serviço já está cancelada")
    assert result.confirmed and result.invoice.status == "cancelled"


def test_cancel_is_refused_before_omie_for_an_unissued_invoice_or_a_short_reason(books: Books) -> None:
    deal_id, _ = _submitted(books)

    with pytest.raises(CancelNotAllowedError, match="only an issued invoice"):
        cancel_invoice(books.fake, books.store, ACCOUNT, deal_id, reason=REASON, requested_by="finance")
    with pytest.raises(ValueError, match="at least"):
        check_cancel_reason("curto")
    assert check_cancel_reason(f"  {REASON}  ") == REASON
    assert books.fake.calls["CancelarOS"] == 0


class _Response:
    def __init__(self, status_code: int, content: bytes) -> None:
        self.status_code, self.content = status_code, content


class _Http:
    """The links' web servers: each URL answers what the test says."""

    def __init__(self, answers: dict[str, _Response]) -> None:
        self.answers, self.asked = answers, []

    def get(self, url: str, timeout: float, **_: object) -> _Response:
        self.asked.append(url)
        return self.answers.get(url, _Response(404, b"<html>not found</html>"))


def test_documents_come_from_fresh_links_and_the_xml_falls_back_to_obternfse(books: Books, tmp_path) -> None:
    deal_id, os_id = _issued(books)
    number = books.fake.orders[os_id].note_id
    http = _Http({f"https://pdf.example/{number}.pdf": _Response(200, b"%PDF-1.7 note")})

    invoice, links = fresh_links(books.fake, books.store, ACCOUNT, deal_id, interval=NO_WAIT)
    pdf = download_pdf(books.fake, books.store, ACCOUNT, deal_id, tmp_path / "note.pdf", interval=NO_WAIT, session=http)
    xml = download_xml(books.fake, books.store, ACCOUNT, deal_id, tmp_path / "note.xml", interval=NO_WAIT, session=http)

    assert links.pdf == f"https://pdf.example/{number}.pdf" and invoice.portal_url == links.portal
    assert pdf.read_bytes().startswith(b"%PDF")
    assert is_xml(xml.read_bytes()) and not is_xml(b"<!DOCTYPE html><html>")
    assert books.fake.calls["ObterNFSe"] == 1


def test_a_web_page_instead_of_the_pdf_is_refused_with_the_portal_link(books: Books, tmp_path) -> None:
    deal_id, os_id = _issued(books)
    number = books.fake.orders[os_id].note_id
    http = _Http({f"https://pdf.example/{number}.pdf": _Response(200, b"<html>login</html>")})

    with pytest.raises(DocumentError, match="web page"):
        download_documents(
            books.fake, books.store, ACCOUNT, deal_id, pdf_path=tmp_path / "n.pdf", interval=NO_WAIT, session=http
        )
    assert not (tmp_path / "n.pdf").exists()


def test_fixes_and_messages_people_read() -> None:
    assert fix_for("A OS 000001 já foi faturada!", "D-1").startswith("nothing to fix")
    assert fix_for("E999 erro desconhecido da prefeitura", "D-1", "Corrija o CEP").startswith(
        "Corrija o CEP, then bill it again with `omie-pipeline invoices retry D-1`"
    )
    renew = cancel_fix_for("Certificado digital vencido", "D-1")
    assert "`omie-pipeline invoices cancel D-1 --reason" in renew and "invoices retry" not in renew
    assert "substitute note" in cancel_fix_for("Prazo para cancelamento expirado", "D-1")
    said = safe_message("  CPF 529.982.247-25 inválido  ")
    assert "529.982.247-25" not in said and said == said.strip() and "inválido" in said


def test_a_request_names_its_author_and_a_deal_with_an_invoice(books: Books) -> None:
    deal_id, _ = _submitted(books)
    invoice, author = requested_invoice(books.store, ACCOUNT, deal_id, "  ana@finance  ", "resend")
    assert invoice.deal_id == deal_id and author == "ana@finance"
    with pytest.raises(ValueError, match="say who asks for the reissue"):
        requested_invoice(books.store, ACCOUNT, deal_id, "   ", "reissue")
    with pytest.raises(InvoiceNotFoundError):
        requested_invoice(books.store, ACCOUNT, "no-such-deal", "ana@finance", "cancellation")


def test_the_invoice_row_reads_back_by_id(books: Books) -> None:
    deal_id, _ = _submitted(books)
    invoice = books.invoice(deal_id)
    with books.store.connect() as connection:
        assert get_invoice_by_id(connection, invoice.id).deal_id == deal_id
