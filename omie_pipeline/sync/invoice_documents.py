"""An issued note's documents for people: its portal link, its PDF and its XML.

The PDF link Omie gives (`cUrlPdfDest`, asked with `lPdfDest`) is a pre-signed URL that expires, so
it is asked for right before each download and never kept; `danfe` / `cUrlNfse` are the
prefeitura's page, kept as the note's link. What comes back must be what it claims to be: a PDF
starts with `%PDF`, an XML with a tag that is not a web page; anything else is reported in plain
words that point at the portal link. The XML comes from `xml_distr`, else inline from `ObterNFSe`.

Asking for the links is a StatusOS about the invoice's OS. It waits until Omie's redundancy
interval since the last question about this invoice has passed (reserved in the store, as the wait
and the status refresh do), and its answer also brings the stored invoice up to date.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from omie_pipeline.domain.invoice_status import InvoiceStatus
from omie_pipeline.domain.timeutil import now_utc
from omie_pipeline.i18n import _
from omie_pipeline.omie import OmieClient, errors
from omie_pipeline.store import Store
from omie_pipeline.store.invoices import (
    Invoice,
    get_invoice,
    get_invoice_by_id,
    invoice_as_asked,
    reserve_check,
    set_portal_url,
)
from omie_pipeline.sync.invoice_actions import InvoiceActionError, InvoiceNotFoundError, seconds_until_allowed
from omie_pipeline.sync.invoice_links import NoteLinks, note_links
from omie_pipeline.sync.invoice_observations import (
    apply_observation,
    from_status_detail,
)

log = logging.getLogger("omie_pipeline.invoices")

RESERVE_ATTEMPTS = 3
_WEB_PAGE_STARTS = (b"<!doctype html", b"<html")


class DocumentError(InvoiceActionError):
    """A document that cannot be had now; the message says why and where else to look."""


def fresh_links(
    client: OmieClient,
    store: Store,
    account: str,
    deal_id: str,
    *,
    interval: timedelta = timedelta(seconds=60),
    clock: Callable[[], datetime] = now_utc,
    sleep: Callable[[float], None] = time.sleep,
    on_wait: Callable[[float], None] | None = None,
) -> tuple[Invoice, NoteLinks]:
    """The invoice and its links as Omie gives them now, the PDF link included (`lPdfDest`).

    `on_wait(seconds)` is told when the invoice was asked about within `interval` and the question
    must wait."""
    invoice = _issued_invoice(store, account, deal_id)
    _reserve(store, invoice, interval, clock, sleep, on_wait)
    detail = client.os_status(nCodOS=invoice.omie_os_id, with_messages=True, documents=True, fresh=True)
    links = note_links(detail)
    with store.begin() as connection:
        current = invoice_as_asked(connection, invoice)
        apply_observation(connection, current, from_status_detail(detail), clock())
        if current is None:  # set aside or billed again meanwhile: the links are of the note asked about
            return invoice, links
        set_portal_url(connection, current, links.portal)
        return get_invoice_by_id(connection, invoice.id), links


def download_documents(
    client: OmieClient,
    store: Store,
    account: str,
    deal_id: str,
    *,
    pdf_path: str | Path | None = None,
    xml_path: str | Path | None = None,
    interval: timedelta = timedelta(seconds=60),
    timeout: float = 30.0,
    session: requests.Session | None = None,
    clock: Callable[[], datetime] = now_utc,
    sleep: Callable[[float], None] = time.sleep,
    on_wait: Callable[[float], None] | None = None,
) -> list[Path]:
    """Save the deal's NFS-e PDF and/or XML, from links asked of Omie once, just before."""
    invoice, links = fresh_links(
        client, store, account, deal_id, interval=interval, clock=clock, sleep=sleep, on_wait=on_wait
    )
    http = session or requests.Session()
    saved = []
    if pdf_path is not None:
        saved.append(_save(pdf_path, _pdf(deal_id, invoice, links, http, timeout)))
    if xml_path is not None:
        saved.append(_save(xml_path, _xml(client, deal_id, invoice, links, http, timeout)))
    return saved


def download_pdf(
    client: OmieClient, store: Store, account: str, deal_id: str, path: str | Path, **options: Any
) -> Path:
    """Save the deal's NFS-e PDF at `path` (options as `download_documents`)."""
    return download_documents(client, store, account, deal_id, pdf_path=path, **options)[0]


def download_xml(
    client: OmieClient, store: Store, account: str, deal_id: str, path: str | Path, **options: Any
) -> Path:
    """Save the deal's NFS-e XML at `path` (options as `download_documents`)."""
    return download_documents(client, store, account, deal_id, xml_path=path, **options)[0]


def _pdf(deal_id: str, invoice: Invoice, links: NoteLinks, http: requests.Session, timeout: float) -> bytes:
    if not links.pdf:
        raise DocumentError(
            _("deal {deal}: Omie gave no PDF link for NFS-e {number}").format(
                deal=deal_id, number=invoice.nfse_number or "?"
            )
            + _open_portal(links.portal)
        )
    response = _get(http, links.pdf, timeout, "PDF")
    if response.status_code != 200:
        raise DocumentError(
            _("deal {deal}: the PDF link Omie had just given answered HTTP {status}; try again in a minute").format(
                deal=deal_id, status=response.status_code
            )
            + _open_portal(links.portal)
        )
    if not response.content.startswith(b"%PDF"):
        raise DocumentError(
            _("deal {deal}: Omie returned a web page, not a PDF: open the portal link").format(deal=deal_id)
            + (" " + links.portal if links.portal else "")
        )
    return response.content


def _xml(
    client: OmieClient, deal_id: str, invoice: Invoice, links: NoteLinks, http: requests.Session, timeout: float
) -> bytes:
    """From `xml_distr`; when that is missing or not XML, inline from `ObterNFSe` (`nIdNf` = `nCodNF`)."""
    if links.xml:
        response = _get(http, links.xml, timeout, "XML")
        if response.status_code == 200 and is_xml(response.content):
            return response.content
    if invoice.nfse_id is not None:
        try:
            inline = client.get_nfse_document(invoice.nfse_id).cXmlNFSe.encode("utf-8")
        except (errors.NotFoundError, errors.RefusedError, errors.ValidationError) as refusal:
            log.info("deal %s: ObterNFSe gave no XML: %s", deal_id, refusal)
        else:
            if is_xml(inline):
                return inline
    raise DocumentError(
        _("deal {deal}: Omie returned a web page, not the XML: open the portal link").format(deal=deal_id)
        + (" " + links.portal if links.portal else "")
    )


def is_xml(content: bytes) -> bool:
    """Whether `content` is an XML document rather than a web page or nothing."""
    head = content.lstrip(b"\xef\xbb\xbf \t\r\n")[:64].lower()
    return head.startswith(b"<") and not head.startswith(_WEB_PAGE_STARTS)


def _issued_invoice(store: Store, account: str, deal_id: str) -> Invoice:
    with store.connect() as connection:
        invoice = get_invoice(connection, account, deal_id)
    if invoice is None:
        raise InvoiceNotFoundError(
            _("deal {deal} has no invoice in account {account}").format(deal=deal_id, account=account)
        )
    if invoice.status not in (InvoiceStatus.ISSUED, InvoiceStatus.CANCELLED) or invoice.omie_os_id is None:
        raise DocumentError(
            _("deal {deal}: the invoice is {status}; only an issued note has documents").format(
                deal=deal_id, status=invoice.status
            )
        )
    return invoice


def _reserve(
    store: Store,
    invoice: Invoice,
    interval: timedelta,
    clock: Callable[[], datetime],
    sleep: Callable[[float], None],
    on_wait: Callable[[float], None] | None,
) -> None:
    """Wait, if need be, until the invoice may be asked about again, and take that turn."""
    for _attempt in range(RESERVE_ATTEMPTS):
        with store.begin() as connection:
            if reserve_check(connection, invoice, clock(), interval):
                return
            current = get_invoice_by_id(connection, invoice.id)  # None: set aside by a reissue meanwhile
        wait = max(seconds_until_allowed(current, interval, clock()), 0.05) if current else 0.05
        log.info("deal %s: Omie was asked about this note moments ago; asking again in %.0f s", invoice.deal_id, wait)
        if on_wait is not None:
            on_wait(wait)
        sleep(wait)
    raise DocumentError(
        _("deal {deal}: Omie keeps being asked about this note; try again in a minute").format(deal=invoice.deal_id)
    )


def _open_portal(link: str | None) -> str:
    return _("; open the portal link {link}").format(link=link) if link else ""


def _get(http: requests.Session, url: str, timeout: float, what: str) -> requests.Response:
    try:
        return http.get(url, timeout=timeout)
    except requests.RequestException as failure:
        raise DocumentError(
            _("could not download the {what}: {error}").format(what=what, error=type(failure).__name__)
        ) from failure


def _save(path: str | Path, content: bytes) -> Path:
    """Write the whole file or nothing: a temporary file in the same folder, then renamed."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    with os.fdopen(handle, "wb") as output:
        output.write(content)
    os.replace(temporary, target)
    return target
