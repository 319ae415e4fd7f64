"""geral/empresas: the company behind the app key (Omie's cheapest connection test)."""

from __future__ import annotations

from typing import Any

from omie_pipeline.simulator import errors
from omie_pipeline.simulator.handlers import CallContext, omie_call
from omie_pipeline.simulator.handlers.common import page_of, paging, require
from omie_pipeline.simulator.money import int_field


@omie_call("geral/empresas", "ListarEmpresas")
def listar_empresas(ctx: CallContext, param: dict[str, Any]) -> dict[str, Any]:
    """One company per app key. A page past the end answers page 1 again, as Omie does here."""
    page, size = paging(param, "pagina", "registros_por_pagina", 50, ctx.config.max_page_size("ListarEmpresas"))
    companies = [dict(ctx.state.company)]
    chosen, total_pages = page_of(companies, page, size)
    if not chosen:
        page = 1
        chosen, total_pages = page_of(companies, 1, size)
    return {
        "pagina": page,
        "total_de_paginas": total_pages,
        "registros": len(chosen),
        "total_de_registros": len(companies),
        "empresas_cadastro": chosen,
    }


@omie_call("geral/empresas", "ConsultarEmpresa")
def consultar_empresa(ctx: CallContext, param: dict[str, Any]) -> dict[str, Any]:
    require(param, "codigo_empresa")
    code = int_field(param, "codigo_empresa")
    if code != ctx.state.company["codigo_empresa"]:
        raise errors.company_not_found(code)
    return dict(ctx.state.company)
