"""Reading an `IncluirOS` param into a ServiceOrder, with the checks Omie makes on it (AlterarOS
reads its blocks the same way)."""

from __future__ import annotations

import re
from typing import Any

from omie_pipeline.simulator import clock, errors
from omie_pipeline.simulator.handlers import CallContext
from omie_pipeline.simulator.handlers.common import (
    block_of,
    flag,
    list_of,
    present,
    require,
    require_one_of,
)
from omie_pipeline.simulator.handlers.servico import find_service
from omie_pipeline.simulator.money import int_field
from omie_pipeline.simulator.state import OrderItem, ServiceOrder
from omie_pipeline.simulator.taxes import compute_item

ETAPAS = ("00", "10", "20", "30", "40", "50")
# The note's text (`cDadosAdicNF`) becomes the RPS's Discriminacao, which the ABRASF layout caps at
# 2000 characters; Omie's own limit is not documented, so the simulator refuses past that.
MAX_NOTE_TEXT = 2000
BLOCKS = {
    "Cabecalho": "cabecalhoOs",
    "InformacoesAdicionais": "InformacoesAdicionais",
    "Email": "Email",
    "Departamentos": "Departamentos",
    "ServicosPrestados": "ServicosPrestados",
    "Parcelas": "Parcelas",
    "Observacoes": "Observacoes",
    "produtosUtilizados": "produtosUtilizados",
    "Despesas": "Despesas",
}
ITEM_TAGS = frozenset(
    {
        "nCodServico",
        "cCodIntServico",
        "cDescServ",
        "nQtde",
        "nValUnit",
        "cTribServ",
        "cCodServMun",
        "cCodServLC116",
        "cNbs",
        "cRetemISS",
        "cDadosAdicItem",
        "cTpDesconto",
        "nValorDesconto",
        "nAliqDesconto",
        "cCodCategItem",
        "nSeqItem",
        "nIdItem",
        "cAcaoItem",
        "impostos",
        "DeducoesIss",
        "viaUnica",
        "nValorOutrasRetencoes",
    }
)
# An item's `impostos` as omie-api.md §8 lists it: ISS retention is the item's `cRetemISS`, not a tag here.
TAX_TAGS = frozenset(
    {
        "nAliqISS",
        "nBaseISS",
        "nValorISS",
        "nTotDeducao",
        "cUtilizaValorImposto",
        "nAliqIRRF",
        "nValorIRRF",
        "cRetemIRRF",
        "nAliqPIS",
        "nValorPIS",
        "cRetemPIS",
        "nAliqCOFINS",
        "nValorCOFINS",
        "cRetemCOFINS",
        "nAliqCSLL",
        "nValorCSLL",
        "cRetemCSLL",
        "nAliqINSS",
        "nValorINSS",
        "cRetemINSS",
        "nAliqRedBaseINSS",
        "nAliqRedBasePIS",
        "nAliqRedBaseCOFINS",
        "lDeduzISS",
        "cFixarISS",
        "cFixarIRRF",
        "cFixarPIS",
        "cFixarCOFINS",
        "cFixarCSLL",
        "cFixarINSS",
        "cCST",
        "cClassTrib",
        "nAliqIbsUf",
        "nAliqIbsMun",
        "nAliqCbs",
        "cIndOPer",
        "nPercReducaoIbsUf",
        "nPercReducaoIbsMun",
        "nPercReducaoCbs",
    }
)
_LC116 = re.compile(r"^(\d{1,2})\.(\d{2})$")


def _structure_fault(tag: str, complex_type: str) -> errors.OmieFault:
    return errors.OmieFault(
        f"ERROR: Tag [{tag}] não faz parte da estrutura do tipo complexo [{complex_type}]!", "SOAP-ENV:Client-8"
    )


def check_tags(block: dict[str, Any], allowed: frozenset[str], complex_type: str) -> None:
    for tag in block:
        if tag not in allowed:
            raise _structure_fault(tag, complex_type)


def _check_lc116(code: str) -> None:
    match = _LC116.match(code.strip())
    if not match or not 1 <= int(match.group(1)) <= 40:
        raise errors.OmieFault(
            f"ERROR: Código de serviço da LC 116 [{code}] não cadastrado! Tag [cCodServLC116]!", "SOAP-ENV:Client-5004"
        )


def client_id_of(ctx: CallContext, cabecalho: dict[str, Any]) -> int:
    tag = require_one_of(cabecalho, "nCodCli", "cCodIntCli")
    if tag == "nCodCli":
        client_id = int_field(cabecalho, "nCodCli")
        if client_id not in ctx.state.clients:
            raise errors.client_not_found(client_id)
        return client_id
    code = str(cabecalho["cCodIntCli"])
    record = ctx.state.client_by_code(code)
    if record is None:
        raise errors.client_not_found_integration(code)
    return record["codigo_cliente_omie"]


def item_of(ctx: CallContext, raw: Any, position: int) -> OrderItem:
    if not isinstance(raw, dict):
        raise errors.invalid_value("ServicosPrestados", raw, "objeto esperado")
    check_tags(raw, ITEM_TAGS, "ServicosPrestados")
    check_tags(block_of(raw, "impostos"), TAX_TAGS, "impostos")
    catalog = None
    if present(raw, "nCodServico") or present(raw, "cCodIntServico"):
        if present(raw, "nCodServico"):
            catalog = find_service(ctx, int_field(raw, "nCodServico"), None, "nCodServico", "cCodIntServico")
        else:
            catalog = find_service(ctx, None, str(raw["cCodIntServico"]), "nCodServico", "cCodIntServico")
        if catalog["info"]["inativo"] == "S":
            raise errors.service_inactive(catalog["intListar"]["nCodServ"])
    else:
        require(raw, "cTribServ", "cCodServMun", "cCodServLC116", "cDescServ", "nValUnit")
    require(raw, "nQtde")
    flag(raw, "cRetemISS")
    stored, taxes = compute_item(raw, catalog)
    if catalog is not None:
        cabecalho = catalog["cabecalho"]
        stored["nCodServico"] = catalog["intListar"]["nCodServ"]
        stored.setdefault("cCodIntServico", catalog["intListar"]["cCodIntServ"])
        stored.setdefault("cDescServ", cabecalho["cDescricao"])
        stored.setdefault("cTribServ", cabecalho["cIdTrib"])
        stored.setdefault("cCodServMun", cabecalho["cCodServMun"])
        stored.setdefault("cCodServLC116", cabecalho["cCodLC116"])
        stored.setdefault("cNbs", cabecalho["nIdNBS"])
    _check_lc116(str(stored["cCodServLC116"]))
    stored["nSeqItem"] = position
    stored["nIdItem"] = position
    stored.setdefault("cDadosAdicItem", "")
    return OrderItem(fields=stored, taxes=taxes)


def email_block(block: dict[str, Any]) -> dict[str, Any]:
    email = {
        tag: "S" if flag(block, tag) else "N"
        for tag in ("cEnvLink", "cEnvBoleto", "cEnvPix", "cEnvRecibo", "cEnvViaUnica")
    }
    if email["cEnvBoleto"] == "S" and email["cEnvPix"] == "S":
        raise errors.invalid_value("cEnvPix", "S", "informe apenas uma das opções cEnvBoleto ou cEnvPix")
    email["cEnviarPara"] = str(block.get("cEnviarPara") or "")
    return email


def build_order(ctx: CallContext, param: dict[str, Any]) -> ServiceOrder:
    """Validate an IncluirOS param and build the order (not yet stored)."""
    check_tags(param, frozenset(BLOCKS), "osCadastro")
    cabecalho = block_of(param, "Cabecalho")
    if not cabecalho:
        raise errors.missing_tag("Cabecalho")
    client_id = client_id_of(ctx, cabecalho)
    require(cabecalho, "dDtPrevisao")
    try:
        clock.parse_omie_date(str(cabecalho["dDtPrevisao"]))
    except ValueError:
        raise errors.invalid_value("dDtPrevisao", cabecalho["dDtPrevisao"], "data no formato dd/mm/aaaa") from None
    etapa = str(cabecalho.get("cEtapa") or "10")
    if etapa not in ETAPAS:
        raise errors.invalid_value("cEtapa", etapa, f"etapas válidas: {', '.join(ETAPAS)}")
    raw_items = list_of(param, "ServicosPrestados")
    if not raw_items:
        raise errors.missing_tag("ServicosPrestados")
    items = [item_of(ctx, raw, position) for position, raw in enumerate(raw_items, start=1)]
    installments = int_field(cabecalho, "nQtdeParc", 1)
    if installments < 1:
        raise errors.invalid_value("nQtdeParc", cabecalho.get("nQtdeParc"), "informe ao menos 1 parcela")
    payment_code = str(cabecalho.get("cCodParc") or "000")
    parcelas = list_of(param, "Parcelas")
    if payment_code == "999" and not parcelas:
        raise errors.missing_tag("Parcelas")
    extra = dict(block_of(param, "InformacoesAdicionais"))
    extra.setdefault("cCidPrestServ", ctx.state.company["cidade"])
    extra.setdefault("cCodCateg", "1.01.02")
    extra.setdefault("cDadosAdicNF", "")
    note_text = str(extra["cDadosAdicNF"])
    if len(note_text) > MAX_NOTE_TEXT:
        raise errors.text_too_long("cDadosAdicNF", len(note_text), MAX_NOTE_TEXT)
    code = str(cabecalho.get("cCodIntOS") or "")
    n_cod_os = ctx.state.sequences.take("os_id")
    return ServiceOrder(
        n_cod_os=n_cod_os,
        c_num_os=f"{ctx.state.sequences.take('os_number'):06d}",
        c_cod_int_os=code,
        n_cod_cli=client_id,
        cabecalho={
            "dDtPrevisao": str(cabecalho["dDtPrevisao"]),
            "nQtdeParc": installments,
            "cCodParc": payment_code,
            "nCodVend": cabecalho.get("nCodVend", 0),
            "nCodCtr": cabecalho.get("nCodCtr", 0),
        },
        informacoes_adicionais=extra,
        email=email_block(block_of(param, "Email")),
        observacoes=dict(block_of(param, "Observacoes")),
        departamentos=list_of(param, "Departamentos"),
        parcelas=parcelas,
        items=items,
        etapa=etapa,
        included_at=ctx.now,
        changed_at=ctx.now,
    )
