"""servicos/osdocs: the documents of an issued NFS-e (`ObterNFSe`; `nIdNf` is ListarNFSEs' `nCodNF`).

The XML comes inline; the PDF as an expiring pre-signed link, like StatusOS's `cUrlPdfDest`."""

from __future__ import annotations

from typing import Any

from omie_pipeline.simulator import errors, nfse_files
from omie_pipeline.simulator.handlers import CallContext, omie_call
from omie_pipeline.simulator.handlers.common import require
from omie_pipeline.simulator.handlers.order_views import document_links, pdf_link
from omie_pipeline.simulator.money import int_field


@omie_call("servicos/osdocs", "ObterNFSe")
def obter_nfse(ctx: CallContext, param: dict[str, Any]) -> dict[str, Any]:
    require(param, "nIdNf")
    nfse_id = int_field(param, "nIdNf")
    nfse = ctx.state.nfses.get(nfse_id)
    if nfse is None:
        raise errors.nfse_not_found(nfse_id)
    if nfse.status == "R":
        raise errors.os_state(f"A NFS-e [{nfse_id}] foi rejeitada pela prefeitura e não possui documentos!")
    order = ctx.state.orders[nfse.n_cod_os]
    links = document_links(ctx, nfse_id)
    return {
        "cNumOs": order.c_num_os,
        "cNumNFSe": str(nfse.number),
        "cSerieNFSe": "",
        "cCodVerif": nfse.cod_verif,
        "cUrlNFSe": links["portal"],
        "cPdfNFSe": pdf_link(ctx, nfse_id, "dest"),
        "cXmlNFSe": nfse_files.nfse_xml(ctx.state, nfse),
        "cLinkPortal": links["portal"],
        "cCodStatus": "0",
        "cDesStatus": "NFS-e cancelada." if nfse.status == "C" else "NFS-e autorizada.",
    }
