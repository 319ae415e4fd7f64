"""Each listing's largest page: 500 for ListarClientes (documented), 200 for the listings Omie gives no
maximum for (what integrators report being refused above), configurable per call."""

from __future__ import annotations

import pytest

from omie_pipeline.simulator import SimulatorConfig

LISTINGS = {
    "ListarClientes": ("geral/clientes/", "pagina", "registros_por_pagina"),
    "ListarOS": ("servicos/os/", "pagina", "registros_por_pagina"),
    "ListarNFSEs": ("servicos/nfse/", "nPagina", "nRegPorPagina"),
    "ListarCadastroServico": ("servicos/servico/", "nPagina", "nRegPorPagina"),
}


@pytest.mark.parametrize(
    ("call", "maximum"),
    [("ListarClientes", 500), ("ListarOS", 200), ("ListarNFSEs", 200), ("ListarCadastroServico", 200)],
)
def test_each_listing_refuses_a_page_over_its_maximum(omie, call: str, maximum: int) -> None:
    path, page_tag, size_tag = LISTINGS[call]
    status, fault = omie.fault(path, call, {page_tag: 1, size_tag: maximum + 1})
    assert status == 500 and fault["faultcode"] == "SOAP-ENV:Client-1005" and f"[{maximum}]" in fault["faultstring"]
    answer = omie.post(path, call, {page_tag: 1, size_tag: maximum}).json()
    assert answer.get("faultcode") in (None, "SOAP-ENV:Client-5113"), answer  # an empty list may end in 5113


def test_a_listing_maximum_can_be_set_per_call(make_sim, caller) -> None:
    omie = caller(make_sim(max_page_sizes={"ListarOS": 20}))
    status, fault = omie.fault("servicos/os/", "ListarOS", {"pagina": 1, "registros_por_pagina": 21})
    assert "[20]" in fault["faultstring"]
    listed = omie.ok("geral/clientes/", "ListarClientes", {"pagina": 1, "registros_por_pagina": 500})
    assert listed["registros"] == listed["total_de_registros"] > 0


def test_bad_maximums_are_refused_with_the_call_named() -> None:
    with pytest.raises(ValueError, match="ListarOS"):
        SimulatorConfig(max_page_sizes={"ListarOS": 0})
