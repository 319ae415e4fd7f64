"""An issued note's documents: the portal link is kept and shown as a link, never saved as the PDF; the
PDF link is asked from Omie right before each download (it expires), and what comes back must be a PDF."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from typing import Any

import pytest
import requests

from omie_pipeline.domain.invoice_status import InvoiceStatus
from omie_pipeline.sync import invoice_documents as documents
from omie_pipeline.sync.invoice_actions import wait_for_invoice
from omie_pipeline.sync.invoice_documents import DocumentError
from omie_pipeline.sync.invoice_status import RefreshSettings, refresh_statuses

from .conftest import FAST, REDUNDANT_SECONDS, Account, calls, calls_since, settle_prefeitura

PDF_LINK_SECONDS = 1.0


@pytest.fixture
def simulator_settings() -> dict[str, Any]:
    return {**FAST, "pdf_link_seconds": PDF_LINK_SECONDS}


def issued(account: Account) -> str:
    (deal,) = account.add_deals(1)
    account.issue()
    settle_prefeitura(account.sim)
    refresh_statuses(
        account.client, account.store, account.name, settings=RefreshSettings(redundant_interval=account.interval)
    )
    assert account.invoice(deal).status == InvoiceStatus.ISSUED
    return deal


def download_pdf(account: Account, deal: str, path, **options: Any):
    return documents.download_pdf(
        account.client, account.store, account.name, deal, path, interval=account.interval, **options
    )


class PortalInsteadOfFiles(requests.Session):
    """Follows every document link to the note's portal page instead: an answer that is a web page."""

    def get(self, url, **kwargs):
        base = url.split("?", 1)[0].removesuffix("/dest.pdf").removesuffix(".xml")
        return super().get(base + "/portal", **kwargs)


def test_the_pdf_is_asked_fresh_before_each_download_and_an_expired_link_is_never_reused(account, tmp_path):
    deal = issued(account)
    before = calls(account.sim)

    first = download_pdf(account, deal, tmp_path / "first.pdf")
    assert first.read_bytes().startswith(b"%PDF")
    assert calls_since(account.sim, before).get("StatusOS") == 1  # asked right before the download

    time.sleep(max(PDF_LINK_SECONDS, REDUNDANT_SECONDS) + 0.1)  # the first link has expired by now
    second = download_pdf(account, deal, tmp_path / "second.pdf")
    assert second.read_bytes().startswith(b"%PDF")
    assert calls_since(account.sim, before).get("StatusOS") == 2


def test_the_portal_link_is_kept_apart_and_is_the_prefeituras_page(account):
    deal = issued(account)
    wait_for_invoice(account.client, account.store, account.name, deal, timeout=0, interval=account.interval)
    time.sleep(REDUNDANT_SECONDS)
    documents.fresh_links(account.client, account.store, account.name, deal, interval=account.interval)

    link = account.invoice(deal).portal_url
    assert link and "/portal" in link
    page = requests.get(link, timeout=5)
    assert page.headers["Content-Type"].startswith("text/html") and not page.content.startswith(b"%PDF")


def test_a_web_page_where_the_pdf_should_be_gives_the_plain_message_and_saves_nothing(account, tmp_path):
    deal = issued(account)
    target = tmp_path / "nota.pdf"

    with pytest.raises(DocumentError, match="Omie returned a web page, not a PDF: open the portal link") as problem:
        download_pdf(account, deal, target, session=PortalInsteadOfFiles())

    assert "/portal" in str(problem.value) and not target.exists()


def test_the_xml_is_downloaded_and_is_the_notes_xml(account, tmp_path):
    deal = issued(account)

    saved = documents.download_xml(
        account.client, account.store, account.name, deal, tmp_path / "nota.xml", interval=account.interval
    )

    number = ET.fromstring(saved.read_bytes()).find(".//{*}Numero").text
    assert number == account.invoice(deal).nfse_number


def test_an_xml_link_that_gives_a_web_page_falls_back_to_obter_nfse(account, tmp_path):
    deal = issued(account)
    before = calls(account.sim)

    saved = documents.download_xml(
        account.client,
        account.store,
        account.name,
        deal,
        tmp_path / "nota.xml",
        interval=account.interval,
        session=PortalInsteadOfFiles(),
    )

    assert saved.read_bytes().lstrip().startswith(b"<?xml")
    assert calls_since(account.sim, before).get("ObterNFSe") == 1


def test_no_documents_before_the_note_is_issued(account, tmp_path):
    (deal,) = account.add_deals(1)
    account.sim.set_faults(prefeitura="stuck")
    account.issue()
    with pytest.raises(DocumentError, match="only an issued note"):
        download_pdf(account, deal, tmp_path / "x.pdf")
    with pytest.raises(DocumentError, match="only an issued note"):
        documents.download_xml(
            account.client, account.store, account.name, deal, tmp_path / "x.xml", interval=account.interval
        )
