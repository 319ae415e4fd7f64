"""servicos/nfse: ListarNFSEs, the bulk view of issued ("F") and cancelled ("C") notes.

A rejected RPS has no note and is not listed (omie-api.md §15): only StatusOS tells of it."""

from __future__ import annotations

from typing import Any

from omie_pipeline.simulator.handlers import CallContext, omie_call
from omie_pipeline.simulator.handlers.common import (
    local,
    moment_range,
    page_of,
    paging,
    present,
    within,
)
from omie_pipeline.simulator.handlers.order_views import render_nfse
from omie_pipeline.simulator.money import int_field
from omie_pipeline.simulator.state import Nfse


def _matches(ctx: CallContext, nfse: Nfse, param: dict[str, Any]) -> bool:
    order = ctx.state.orders[nfse.n_cod_os]
    checks = (
        ("nNumeroNFSe", lambda v: nfse.number == int_field(param, "nNumeroNFSe")),
        ("cCodigoVerifNFSe", lambda v: nfse.cod_verif == str(v)),
        ("nCodNF", lambda v: nfse.n_cod_nf == int_field(param, "nCodNF")),
        ("nCodigoCliente", lambda v: order.n_cod_cli == int_field(param, "nCodigoCliente")),
        ("nCodigoOS", lambda v: order.n_cod_os == int_field(param, "nCodigoOS")),
        ("nNumeroOS", lambda v: int(order.c_num_os) == int_field(param, "nNumeroOS")),
        ("nCodigoContrato", lambda v: order.cabecalho.get("nCodCtr") == int_field(param, "nCodigoContrato")),
        ("cStatusNFSe", lambda v: nfse.status == str(v).upper()),
        ("cAmbienteNFSe", lambda v: str(v).upper() == "P"),
        ("cSerieNFSe", lambda v: str(v) == ""),
    )
    return all(check(param[tag]) for tag, check in checks if present(param, tag))


@omie_call("servicos/nfse", "ListarNFSEs")
def listar_nfses(ctx: CallContext, param: dict[str, Any]) -> dict[str, Any]:
    """Paged by nPagina/nRegPorPagina; past the end (or nothing found) answers an empty list."""
    page, size = paging(param, "nPagina", "nRegPorPagina", 50, ctx.config.max_page_size("ListarNFSEs"))
    emitted = moment_range(param, "dEmiInicial", "dEmiFinal", "hEmiInicial", "hEmiFinal")
    selected = [
        nfse
        for n_cod_nf, nfse in sorted(ctx.state.nfses.items())
        if within(local(nfse.emitted_at), *emitted) and _matches(ctx, nfse, param)
    ]
    chosen, total_pages = page_of(selected, page, size)
    return {
        "nPagina": page,
        "nTotPaginas": total_pages,
        "nRegistros": len(chosen),
        "nTotRegistros": len(selected),
        "nfseEncontradas": [render_nfse(ctx, nfse) for nfse in chosen],
    }
