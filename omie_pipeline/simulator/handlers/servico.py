"""servicos/servico: the service catalog with each service's LC 116 code and tax rates."""

from __future__ import annotations

import fnmatch
from typing import Any

from omie_pipeline.simulator import errors
from omie_pipeline.simulator.handlers import CallContext, omie_call
from omie_pipeline.simulator.handlers.common import (
    moment_range,
    page_or_fault,
    paging,
    present,
    require_one_of,
    stored_moment,
    within,
)
from omie_pipeline.simulator.money import int_field


def find_service(ctx: CallContext, n_cod: int | None, code: str | None, id_tag: str, code_tag: str) -> dict[str, Any]:
    """A catalog record by Omie id or integration code, with Omie's not-found faults."""
    if n_cod:
        record = ctx.state.services.get(n_cod)
        if record is None:
            raise errors.service_not_found(n_cod, id_tag)
        return record
    record = ctx.state.service_by_code(code or "")
    if record is None:
        raise errors.service_not_found_integration(code or "")
    return record


@omie_call("servicos/servico", "ConsultarCadastroServico")
def consultar_cadastro_servico(ctx: CallContext, param: dict[str, Any]) -> dict[str, Any]:
    tag = require_one_of(param, "nCodServ", "cCodIntServ")
    if tag == "nCodServ":
        return find_service(ctx, int_field(param, "nCodServ"), None, "nCodServ", "cCodIntServ")
    return find_service(ctx, None, str(param["cCodIntServ"]), "nCodServ", "cCodIntServ")


def _description_matches(pattern: str, description: str) -> bool:
    """`cDescricao` is a prefix; `%` is a wildcard."""
    glob = pattern.replace("%", "*").lower()
    if not glob.endswith("*"):
        glob += "*"
    return fnmatch.fnmatchcase(description.lower(), glob)


@omie_call("servicos/servico", "ListarCadastroServico")
def listar_cadastro_servico(ctx: CallContext, param: dict[str, Any]) -> dict[str, Any]:
    page, size = paging(param, "nPagina", "nRegPorPagina", 50, ctx.config.max_page_size("ListarCadastroServico"))
    included = moment_range(param, "dInclusaoInicial", "dInclusaoFinal", "hInclusaoInicial", "hInclusaoFinal")
    changed = moment_range(param, "dAlteracaoInicial", "dAlteracaoFinal", "hAlteracaoInicial", "hAlteracaoFinal")
    selected = []
    for n_cod in sorted(ctx.state.services):
        record = ctx.state.services[n_cod]
        info, cabecalho = record["info"], record["cabecalho"]
        if present(param, "cCodigo") and cabecalho["cCodigo"] != str(param["cCodigo"]):
            continue
        if present(param, "cDescricao") and not _description_matches(str(param["cDescricao"]), cabecalho["cDescricao"]):
            continue
        if present(param, "inativo") and info["inativo"] != str(param["inativo"]).upper():
            continue
        if not within(stored_moment(info["dInc"], info["hInc"]), *included):
            continue
        if not within(stored_moment(info["dAlt"], info["hAlt"]), *changed):
            continue
        selected.append(record)
    descending = str(param.get("cOrdemDecrescente") or "N").upper() == "S"
    order_by = str(param.get("cOrdenarPor") or "CODIGO").upper()
    if order_by == "DESCRICAO":
        selected.sort(key=lambda r: r["cabecalho"]["cDescricao"], reverse=descending)
    elif descending:
        selected.reverse()
    chosen, total_pages = page_or_fault(selected, page, size)
    return {
        "nPagina": page,
        "nTotPaginas": total_pages,
        "nRegistros": len(chosen),
        "nTotRegistros": len(selected),
        "cadastros": chosen,
    }
