"""How orders, their RPS and their NFS-e look in Omie's answers (ConsultarOS, StatusOS, ListarNFSEs)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from omie_pipeline.simulator import clock, documents
from omie_pipeline.simulator.handlers import CallContext
from omie_pipeline.simulator.money import ZERO
from omie_pipeline.simulator.state import Nfse, ServiceOrder


def _date(moment: datetime | None) -> str:
    return clock.omie_date(moment) if moment else ""


def _time(moment: datetime | None) -> str:
    return clock.omie_time(moment) if moment else ""


def render_order(ctx: CallContext, order: ServiceOrder) -> dict[str, Any]:
    """The `osCadastro` shape of ConsultarOS and ListarOS."""
    client = ctx.state.clients.get(order.n_cod_cli, {})
    return {
        "Cabecalho": {
            "cCodIntOS": order.c_cod_int_os,
            "nCodOS": order.n_cod_os,
            "cNumOS": order.c_num_os,
            "nCodCli": order.n_cod_cli,
            "cCodIntCli": client.get("codigo_cliente_integracao", ""),
            "cEtapa": order.etapa,
            **order.cabecalho,
            "cDescParc": "À Vista" if order.cabecalho["cCodParc"] == "000" else "Parcelado",
            "nValorTotal": order.total,
            "nValorTotalImpRet": order.retained_total,
        },
        "InformacoesAdicionais": {
            **order.informacoes_adicionais,
            "cNumRecibo": order.c_num_os if order.faturada else "",
        },
        "Email": dict(order.email),
        "Departamentos": list(order.departamentos),
        "ServicosPrestados": [dict(item.fields) for item in order.items],
        "Parcelas": list(order.parcelas),
        "Observacoes": dict(order.observacoes),
        "InfoCadastro": {
            "cCancelada": "S" if order.cancelada else "N",
            "cFaturada": "S" if order.faturada else "N",
            "cAmbiente": "P",
            "dDtInc": _date(order.included_at),
            "cHrInc": _time(order.included_at),
            "dDtAlt": _date(order.changed_at),
            "cHrAlt": _time(order.changed_at),
            "dDtFat": _date(order.invoiced_at),
            "cHrFat": _time(order.invoiced_at),
            "dDtCanc": _date(order.cancelled_at),
            "cHrCanc": _time(order.cancelled_at),
            "cOrigem": "API",
        },
    }


def document_links(ctx: CallContext, nfse_id: int) -> dict[str, str]:
    """The issued note's lasting links: its page at the prefeitura's portal (HTML; what `danfe` and
    `cUrlNfse` point to) and its XML. PDFs have no lasting link: see `pdf_link`."""
    base = f"{ctx.documents_url}{nfse_id}"
    return {"xml": f"{base}.xml", "portal": f"{base}/portal"}


def pdf_link(ctx: CallContext, nfse_id: int, kind: str) -> str:
    """A pre-signed link to one of the note's PDFs, valid for `pdf_link_seconds` from now."""
    return ctx.state.pdf_links.issue(ctx.documents_url, nfse_id, kind, ctx.config.pdf_link_seconds, ctx.mono)


def number_text(ctx: CallContext, number: int) -> str:
    """`nRps` / `nNfse` are text in Omie's WSDL and may carry leading zeros (`number_width`)."""
    return str(number).zfill(ctx.config.number_width) if number else ""


def render_status(ctx: CallContext, order: ServiceOrder, options: dict[str, Any]) -> dict[str, Any]:
    """StatusOS: the order's billing flags and its RPS/NFS-e list (one entry per billing attempt)."""
    company = ctx.state.company
    rps_list = []
    for rps in order.rps_attempts:  # each billing attempt is its own RPS, with its own messages
        issued = rps.status in ("004", "005")
        links = document_links(ctx, rps.n_cod_nf) if issued else {}
        messages = (
            list(reversed(rps.mensagens))
            if options.get("lMsg") is True
            else [message for message in rps.mensagens if message["cSituacao"] == "ERRO"]
        )
        entry = {
            "nLote": rps.n_lote,
            "cStatusLote": rps.status,
            "cProtocolo": rps.protocolo if rps.status != "001" else "",
            "nRps": number_text(ctx, rps.n_rps),
            "cStatusRps": rps.status,
            "nNfse": number_text(ctx, rps.n_nfse) if issued else "",
            "cCodVerif": rps.cod_verif if issued else "",
            "cCNPJ": company["cnpj"],
            "cInscrMunicipal": company["inscricao_municipal"],
            "xml_distr": links.get("xml", ""),
            "danfe": links.get("portal", ""),
            "cUrlNfse": links.get("portal", ""),
            "mensagens": messages,
        }
        if options.get("lPdfDemo") is True:
            entry["cUrlPdfDemo"] = pdf_link(ctx, rps.n_cod_nf, "demo") if issued else ""
        if options.get("lPdfDest") is True:
            entry["cUrlPdfDest"] = pdf_link(ctx, rps.n_cod_nf, "dest") if issued else ""
        if options.get("lRps") is True:
            entry["cUrlRps"] = f"{ctx.documents_url}rps/{rps.n_rps}.pdf"
        rps_list.append(entry)
    answer = {
        "cCodIntOS": order.c_cod_int_os,
        "nCodOS": order.n_cod_os,
        "cNumOS": order.c_num_os,
        "cEtapa": order.etapa,
        "cFaturada": "S" if order.faturada else "N",
        "cCancelada": "S" if order.cancelada else "N",
        "cAmbiente": "P",
        "dDtFat": _date(order.invoiced_at),
        "cHrFat": _time(order.invoiced_at),
        "dDtCanc": _date(order.cancelled_at),
        "cHrCanc": _time(order.cancelled_at),
        "nValorTot": order.total,
        "cNumRecibo": order.c_num_os if order.faturada else "",
        "cUrlPdfRecibo": f"{ctx.documents_url}recibo/{order.n_cod_os}.pdf"
        if order.faturada and options.get("lPdfRecibo") is True
        else "",
        "ListaRpsNfse": rps_list,
    }
    return answer


def _tax_values(order: ServiceOrder) -> dict[str, Any]:
    def total(tax: str) -> Any:
        return sum((item.taxes.amounts[tax] for item in order.items), ZERO)

    iss_retained = any(item.taxes.retained["ISS"] for item in order.items)
    first = order.items[0].taxes
    return {
        "nValorTotalServicos": order.total,
        "nValorBaseCalculo": sum((item.taxes.iss_base for item in order.items), ZERO),
        "nValorDeducao": sum((item.taxes.deduction for item in order.items), ZERO),
        "cIssRetido": "S" if iss_retained else "N",
        "nValorISS": total("ISS"),
        "nAliquotaISS": first.rates["ISS"],
        "nValorPIS": total("PIS"),
        "nValorCOFINS": total("COFINS"),
        "nValorIR": total("IRRF"),
        "nValorINSS": total("INSS"),
        "nValorCSLL": total("CSLL"),
        "nValorLiquido": order.total - order.retained_total,
    }


def _services(order: ServiceOrder) -> list[dict[str, Any]]:
    rows = []
    for item in order.items:
        fields, taxes = item.fields, item.taxes
        row = {
            "CodigoLC116": fields["cCodServLC116"],
            "CodigoServico": fields["cCodServMun"],
            "nQuantidade": fields["nQtde"],
            "nValorUnitario": fields["nValUnit"],
            "cDescricao": fields.get("cDescServ", ""),
        }
        for tax, shown in (
            ("ISS", "ISS"),
            ("IRRF", "IR"),
            ("PIS", "PIS"),
            ("COFINS", "COFINS"),
            ("CSLL", "CSLL"),
            ("INSS", "INSS"),
        ):
            row[f"nAliquota{shown}"] = taxes.rates[tax]
            row[f"nValor{shown}"] = taxes.amounts[tax]
            row[f"cRet{shown}"] = "S" if taxes.retained[tax] else "N"
        rows.append(row)
    return rows


def render_nfse(ctx: CallContext, nfse: Nfse) -> dict[str, Any]:
    """One `nfseEncontradas` record of ListarNFSEs (no document links: Omie has none here)."""
    order = ctx.state.orders[nfse.n_cod_os]
    client = ctx.state.clients.get(order.n_cod_cli, {})
    company = ctx.state.company
    rps = order.rps
    document = client.get("cnpj_cpf", "")
    person = bool(document) and documents.is_cpf(document)
    return {
        "Cabecalho": {
            "nNumeroNFSe": nfse.number,
            "cSerieNFSe": "",
            "nValorNFSe": order.total,
            "cStatusNFSe": nfse.status,
            "cCodigoVerifNFSe": nfse.cod_verif,
            "nCodNF": nfse.n_cod_nf,
            "nChaveNFe": "",
            "cAmbienteNFSe": "P",
            "cCidadeEmissor": company["cidade"],
            "cCNPJEmissor": company["cnpj"],
            "cIMEmissor": company["inscricao_municipal"],
            "cCNPJDestinatario": "" if person else document,
            "cCPFDestinatario": document if person else "",
            "cIMDestinatario": client.get("inscricao_municipal", ""),
            "nCodigoCliente": order.n_cod_cli,
        },
        "OrdemServico": {
            "nCodigoOS": order.n_cod_os,
            "nNumeroOS": int(order.c_num_os),
            "nValorOS": order.total,
            "nCodigoContrato": order.cabecalho.get("nCodCtr", 0),
            "cNumeroContrato": order.informacoes_adicionais.get("cNumContrato", ""),
            "cPedidoCliente": order.informacoes_adicionais.get("cNumPedido", ""),
        },
        "RPS": {
            "nNumeroLote": rps.n_lote if rps else 0,
            "nStatusLote": int(rps.status) if rps else 0,
            "nNumeroRPS": rps.n_rps if rps else 0,
            "cStatusRPS": rps.status if rps else "",
            "cSerieRPS": "RPS",
            "cProtocoloRPS": rps.protocolo if rps else "",
            "cDataRPS": _date(rps.created_at) if rps else "",
        },
        "Valores": _tax_values(order),
        "Emissao": {
            "cDataEmissao": _date(nfse.emitted_at),
            "cHoraEmissao": _time(nfse.emitted_at),
            "cUsuarioEmissao": "WEBSERVICE",
        },
        "Inclusao": {
            "cDataInclusao": _date(nfse.emitted_at),
            "cHoraInclusao": _time(nfse.emitted_at),
            "cUsuarioInclusao": "WEBSERVICE",
        },
        "Alteracao": {
            "cDataAlteracao": _date(nfse.changed_at),
            "cHoraAlteracao": _time(nfse.changed_at),
            "cUsuarioAlteracao": "WEBSERVICE",
        },
        "Cancelamento": {
            "cDataCancelamento": _date(nfse.cancelled_at),
            "cHoraCancelamento": _time(nfse.cancelled_at),
            "cUsuarioCancelamento": "WEBSERVICE" if nfse.cancelled_at else "",
            "cMotivoCancelamento": "Cancelamento solicitado pelo emitente." if nfse.cancelled_at else "",
        },
        "Adicionais": {"cDadosAdicionais": order.informacoes_adicionais.get("cDadosAdicNF", "")},
        "IBPT": {"nValorFederal": ZERO, "nValorEstadual": ZERO, "nValorMunicipal": ZERO},
        "ListaServicos": _services(order),
    }
