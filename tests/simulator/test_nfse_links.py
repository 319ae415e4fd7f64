"""An issued note's links: the portal page (`danfe`, `cUrlNfse`) is HTML, the XML is XML, and the PDFs
come only when StatusOS asks for them (`lPdfDest` / `lPdfDemo`), as links that expire (omie-api.md §15)."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET

import requests

from .test_nfse_lifecycle import OS, _invoiced_order, _rps, _statuses_until_final


def _issued(make_sim, caller, client_param, order_param, **settings):
    omie = caller(make_sim(**settings))
    _invoiced_order(omie, client_param, order_param)
    assert _statuses_until_final(omie, "OS-N1")[-1] == "004"
    return omie


def test_portal_links_are_web_pages_and_the_xml_is_xml(make_sim, caller, client_param, order_param):
    omie = _issued(make_sim, caller, client_param, order_param)
    rps = _rps(omie, "OS-N1")
    assert "cUrlPdfDest" not in rps and "cUrlPdfDemo" not in rps, "PDF links come only when asked for"
    for link in (rps["danfe"], rps["cUrlNfse"]):
        page = requests.get(link, timeout=5)
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
        assert not page.content.startswith(b"%PDF") and b"<html" in page.content
    xml = requests.get(rps["xml_distr"], timeout=5)
    assert xml.headers["Content-Type"].startswith("application/xml")
    assert ET.fromstring(xml.content).find(".//{*}Numero").text == str(rps["nNfse"])


def test_pdf_links_come_when_asked_and_each_opens_the_pdf(make_sim, caller, client_param, order_param):
    omie = _issued(make_sim, caller, client_param, order_param)
    rps = _rps(omie, "OS-N1", lPdfDest=True, lPdfDemo=True)
    for link in (rps["cUrlPdfDest"], rps["cUrlPdfDemo"]):
        pdf = requests.get(link, timeout=5)
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert rps["cUrlPdfDest"] != rps["cUrlPdfDemo"] and rps["cUrlPdfDest"] != rps["danfe"]


def test_a_pdf_link_answers_403_once_expired_and_a_new_ask_gives_a_working_one(
    make_sim, caller, client_param, order_param
):
    omie = _issued(make_sim, caller, client_param, order_param, pdf_link_seconds=0.4)
    first = _rps(omie, "OS-N1", lPdfDest=True)["cUrlPdfDest"]
    assert requests.get(first, timeout=5).status_code == 200
    time.sleep(0.5)
    expired = requests.get(first, timeout=5)
    assert expired.status_code == 403 and b"expired" in expired.content
    fresh = _rps(omie, "OS-N1", lPdfDest=True, lMsg=True)["cUrlPdfDest"]
    assert fresh != first and requests.get(fresh, timeout=5).content.startswith(b"%PDF")


def test_a_pdf_without_a_valid_signature_is_refused(make_sim, caller, client_param, order_param):
    omie = _issued(make_sim, caller, client_param, order_param)
    link = _rps(omie, "OS-N1", lPdfDest=True)["cUrlPdfDest"]
    unsigned = link.split("?", 1)[0]
    assert requests.get(unsigned, timeout=5).status_code == 403
    assert requests.get(unsigned + "?Signature=0123abcd", timeout=5).status_code == 403
    other_kind = link.replace("/dest.pdf", "/demo.pdf")
    assert requests.get(other_kind, timeout=5).status_code == 403


def test_pdf_link_lifetime_defaults_to_ten_minutes(sim):
    assert sim.config.pdf_link_seconds == 600.0


def test_obter_nfse_gives_the_xml_inline_the_portal_page_and_an_expiring_pdf_link(
    make_sim, caller, client_param, order_param
):
    omie = _issued(make_sim, caller, client_param, order_param, pdf_link_seconds=0.4)
    note = omie.ok("servicos/nfse/", "ListarNFSEs", {"nPagina": 1})["nfseEncontradas"][0]
    documents = omie.ok("servicos/osdocs/", "ObterNFSe", {"nIdNf": note["Cabecalho"]["nCodNF"]})
    assert documents["cXmlNFSe"].startswith("<?xml") and documents["cLinkPortal"] == documents["cUrlNFSe"]
    assert requests.get(documents["cLinkPortal"], timeout=5).headers["Content-Type"].startswith("text/html")
    assert requests.get(documents["cPdfNFSe"], timeout=5).content.startswith(b"%PDF")
    time.sleep(0.5)
    assert requests.get(documents["cPdfNFSe"], timeout=5).status_code == 403


def test_status_without_an_issued_note_asks_pdf_links_in_vain(make_sim, caller, client_param, order_param):
    omie = caller(make_sim(nfse_delay=(30.0, 30.0)))
    _invoiced_order(omie, client_param, order_param)
    rps = omie.ok(OS, "StatusOS", {"cCodIntOS": "OS-N1", "lPdfDest": True})["ListaRpsNfse"][0]
    assert rps["cStatusRps"] in ("001", "002") and rps["cUrlPdfDest"] == "" and rps["danfe"] == ""
