"""The issued note's files: an ABRASF-like XML and a one-page PDF, built from the simulator's data."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal

from omie_pipeline.simulator import documents
from omie_pipeline.simulator.state import Nfse, SimState


def _text(parent: ET.Element, tag: str, value: object) -> ET.Element:
    element = ET.SubElement(parent, tag)
    element.text = f"{value:.2f}" if isinstance(value, Decimal) else str(value)
    return element


def nfse_xml(state: SimState, nfse: Nfse) -> str:
    order = state.orders[nfse.n_cod_os]
    client = state.clients.get(order.n_cod_cli, {})
    company = state.company
    root = ET.Element("CompNfse", xmlns="http://www.abrasf.org.br/nfse.xsd")
    info = ET.SubElement(ET.SubElement(root, "Nfse"), "InfNfse")
    _text(info, "Numero", nfse.number)
    _text(info, "CodigoVerificacao", nfse.cod_verif)
    _text(info, "DataEmissao", nfse.emitted_at.isoformat(timespec="seconds"))
    values = ET.SubElement(info, "ValoresNfse")
    _text(values, "BaseCalculo", sum((item.taxes.iss_base for item in order.items), Decimal("0.00")))
    _text(values, "ValorIss", sum((item.taxes.amounts["ISS"] for item in order.items), Decimal("0.00")))
    _text(values, "ValorLiquidoNfse", order.total - order.retained_total)
    provider = ET.SubElement(info, "PrestadorServico")
    _text(provider, "Cnpj", documents.normalise(company["cnpj"]))
    _text(provider, "InscricaoMunicipal", company["inscricao_municipal"])
    _text(provider, "RazaoSocial", company["razao_social"])
    borrower = ET.SubElement(info, "TomadorServico")
    document = documents.normalise(client.get("cnpj_cpf", ""))
    _text(borrower, "Cpf" if len(document) == 11 else "Cnpj", document)
    _text(borrower, "RazaoSocial", client.get("razao_social", ""))
    service = ET.SubElement(info, "Servico")
    service_values = ET.SubElement(service, "Valores")
    _text(service_values, "ValorServicos", order.total)
    for tag, tax in (
        ("ValorPis", "PIS"),
        ("ValorCofins", "COFINS"),
        ("ValorInss", "INSS"),
        ("ValorIr", "IRRF"),
        ("ValorCsll", "CSLL"),
    ):
        _text(service_values, tag, sum((item.taxes.amounts[tax] for item in order.items), Decimal("0.00")))
    _text(service, "ItemListaServico", order.items[0].fields["cCodServLC116"])
    _text(service, "Discriminacao", "; ".join(str(item.fields.get("cDescServ", "")) for item in order.items))
    if nfse.status == "C" and nfse.cancelled_at:
        cancel = ET.SubElement(root, "NfseCancelamento")
        _text(cancel, "DataHora", nfse.cancelled_at.isoformat(timespec="seconds"))
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def _pdf_escape(line: str) -> str:
    safe = line.encode("latin-1", "replace").decode("latin-1")
    return safe.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def nfse_pdf(state: SimState, nfse: Nfse) -> bytes:
    """The note's PDF: its main data on one page."""
    order = state.orders[nfse.n_cod_os]
    client = state.clients.get(order.n_cod_cli, {})
    lines = [
        "NFS-e - Nota Fiscal de Servicos Eletronica (simulada)",
        f"Numero: {nfse.number}   Codigo de verificacao: {nfse.cod_verif}",
        f"Emissao: {nfse.emitted_at:%d/%m/%Y %H:%M:%S}",
        f"Prestador: {state.company['razao_social']} - CNPJ {state.company['cnpj']}",
        f"Tomador: {client.get('razao_social', '')} - {client.get('cnpj_cpf', '')}",
        f"OS: {order.c_num_os}   Valor dos servicos: R$ {order.total:.2f}",
        f"Valor liquido: R$ {order.total - order.retained_total:.2f}",
    ]
    if nfse.status == "C":
        lines.append("NOTA CANCELADA")
    return simple_pdf(lines)


def simple_pdf(lines: list[str]) -> bytes:
    """A minimal, valid one-page PDF showing `lines` (Latin-1 text, Helvetica)."""
    content = "BT /F1 11 Tf 50 800 Td 14 TL " + " ".join(f"({_pdf_escape(line)}) '" for line in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        "/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        f"<< /Length {len(content.encode('latin-1'))} >>\nstream\n{content}\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref_at = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode("latin-1")
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode("latin-1")
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref_at}\n%%EOF\n".encode("latin-1")
    return bytes(out)
