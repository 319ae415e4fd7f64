"""Reading Omie's answers about an invoice and applying them to the store (sync/invoice_observations.py,
sync/invoice_links.py), from answers the in-memory Omie shapes with the client's models."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from omie_pipeline.domain.invoice_status import InvoiceStatus
from omie_pipeline.omie.models import OsStatusDetail, RpsMessage, RpsNfse
from omie_pipeline.sync.invoice_links import NoteLinks, note_links
from omie_pipeline.sync.invoice_observations import (
    Applied,
    Observation,
    apply_observation,
    from_nfse_record,
    from_os_record,
    from_status_detail,
    latest_nfse_by_os,
    latest_rps,
    newest_attempt_errors,
    omie_moment,
    portal_link,
    text_or_none,
)

from .conftest import Books


def _billed(books: Books) -> tuple[str, int]:
    deal_id = books.add_deal()
    books.issue()
    return deal_id, books.invoice(deal_id).omie_os_id


def test_omie_s_local_moment_becomes_aware_utc() -> None:
    assert omie_moment(date(2026, 11, 3), time(10, 0)) == datetime(2026, 11, 3, 13, 0, tzinfo=UTC)
    assert omie_moment(None, time(10, 0)) is None


def test_omie_text_fields_and_the_portal_link_of_a_note() -> None:
    assert text_or_none("  X1 ") == "X1" and text_or_none("  ") is None and text_or_none(None) is None
    both = RpsNfse.model_validate({"cUrlNfse": "https://nfse/55", "danfe": "https://danfse/55"})
    danfe_only = RpsNfse.model_validate({"cUrlNfse": " ", "danfe": "https://danfse/55"})
    assert portal_link(both) == "https://nfse/55" and portal_link(danfe_only) == "https://danfse/55"
    assert portal_link(RpsNfse.model_validate({})) is None


def test_statusos_through_the_life_of_a_note(books: Books) -> None:
    _, os_id = _billed(books)
    processing = from_status_detail(books.fake.os_status(nCodOS=os_id))
    note = books.fake.issue_note(os_id)
    detail = books.fake.os_status(nCodOS=os_id, documents=True)
    issued = from_status_detail(detail)

    assert processing.status is InvoiceStatus.PROCESSING and processing.invoiced_at is not None
    assert issued.status is InvoiceStatus.ISSUED and issued.nfse_number == note["Cabecalho"]["nNumeroNFSe"]
    assert issued.issued_at is not None and issued.portal_url
    assert latest_rps(detail).cStatusRps == "004"
    links = note_links(detail)
    assert links.portal == issued.portal_url and links.pdf.endswith(".pdf")
    assert note_links(OsStatusDetail.model_validate({"nCodOS": 1})) == NoteLinks(None, None, None)


def test_a_rejection_reads_every_error_line_of_the_newest_attempt_only(books: Books) -> None:
    _, os_id = _billed(books)
    books.fake.reject_note(os_id, "Código de serviço inválido", "Use o código 1.07")
    rejected = from_status_detail(books.fake.os_status(nCodOS=os_id))

    old = RpsMessage(cSituacao="ERRO", cDescricao="old", dData=date(2026, 1, 1), hHora=time(9, 0))
    new = [
        RpsMessage(cSituacao="ERRO", cDescricao=text, dData=date(2026, 2, 1), hHora=time(9, 0))
        for text in ("first", "second")
    ]

    assert rejected.status is InvoiceStatus.ERROR
    assert "Código de serviço inválido" in rejected.error and rejected.correction == "Use o código 1.07"
    assert [message.cDescricao for message in newest_attempt_errors([old, *new])] == ["first", "second"]


def test_listings_tell_issued_cancelled_and_invoiced_without_a_note(books: Books) -> None:
    _, os_id = _billed(books)
    (order,) = books.fake.list_os()
    assert from_os_record(order).status is InvoiceStatus.PROCESSING
    books.fake.issue_note(os_id)
    (listed,) = books.fake.list_nfse(date(2000, 1, 1), date(2100, 1, 1))
    assert from_nfse_record(listed).status is InvoiceStatus.ISSUED
    books.fake.cancel_os(nCodOS=os_id)
    (cancelled,) = books.fake.list_nfse(date(2000, 1, 1), date(2100, 1, 1))
    (order,) = books.fake.list_os()
    assert from_nfse_record(cancelled).status is InvoiceStatus.CANCELLED
    assert from_os_record(order).status is InvoiceStatus.CANCELLED


def test_latest_note_per_os_is_the_highest_ncodnf(books: Books) -> None:
    _, os_id = _billed(books)
    books.fake.issue_note(os_id)
    (first,) = books.fake.list_nfse(date(2000, 1, 1), date(2100, 1, 1))
    newer = first.model_copy(update={"Cabecalho": first.Cabecalho.model_copy(update={"nCodNF": 10**9})})

    assert latest_nfse_by_os([newer, first])[os_id] is newer


def test_applying_observations_moves_forward_only(books: Books) -> None:
    deal_id, _ = _billed(books)
    now = datetime.now(UTC)

    def apply(observation: Observation) -> Applied:
        invoice = books.invoice(deal_id)  # read before the write: SQLite holds one writer at a time
        with books.store.begin() as connection:
            return apply_observation(connection, invoice, observation, now)

    issued = apply(Observation("StatusOS", InvoiceStatus.ISSUED, nfse_number="77"))
    stale = apply(Observation("ListarOS", InvoiceStatus.PROCESSING))
    silent = apply(Observation("ListarOS", None))

    assert (issued, stale, silent) == (Applied.CHANGED, Applied.IGNORED, Applied.UNCHANGED)
    assert books.invoice(deal_id).nfse_number == "77"
