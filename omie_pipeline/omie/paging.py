"""Walking Omie's paged listings to the last page.

Omie pages are 1-based. The walk stops at the total number of pages Omie reports, on an empty
page, or on Omie's 5113 "no records for page N" fault, whichever comes first: past the end,
most calls answer 5113, `ListarNFSEs` an empty list and `ListarEmpresas` page 1 again (so the
total is always trusted over "more records came back").

Each listing has its own page size (`PAGE_SIZES`): Omie documents 500 for ListarClientes and no
maximum for ListarOS, ListarNFSEs and ListarCadastroServico, where integrators use 50 to 200 and
some report refusals above that; 100 keeps clear of those refusals at a modest cost in calls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from omie_pipeline.omie.errors import NoRecordsError


@dataclass(frozen=True)
class PageTags:
    """The names one family of calls uses for paging."""

    page: str
    size: str
    total_pages: str


SNAKE_PAGES = PageTags("pagina", "registros_por_pagina", "total_de_paginas")
"""geral/* and servicos/os: `pagina`, `registros_por_pagina`, `total_de_paginas`."""

PREFIXED_PAGES = PageTags("nPagina", "nRegPorPagina", "nTotPaginas")
"""servicos/servico and servicos/nfse: `nPagina`, `nRegPorPagina`, `nTotPaginas`."""


PAGE_SIZES: Mapping[str, int] = MappingProxyType(
    {
        "ListarClientes": 500,
        "ListarEmpresas": 50,
        "ListarOS": 100,
        "ListarNFSEs": 100,
        "ListarCadastroServico": 100,
    }
)
"""The default page size of each listing the client walks."""


def page_sizes(overrides: Mapping[str, int] | None = None) -> Mapping[str, int]:
    """`PAGE_SIZES` with some methods' sizes replaced; ValueError names an unknown method or a bad size."""
    chosen = dict(PAGE_SIZES)
    for method, size in dict(overrides or {}).items():
        if method not in PAGE_SIZES:
            raise ValueError(f"no page size can be set for {method!r}; the listings are {', '.join(PAGE_SIZES)}")
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"the page size of {method} must be a whole number of at least 1; got {size!r}")
        chosen[method] = size
    return MappingProxyType(chosen)


def walk_pages(
    fetch: Callable[[dict[str, Any]], dict[str, Any]],
    param: dict[str, Any],
    tags: PageTags,
    records_field: str,
    page_size: int,
) -> Iterator[dict[str, Any]]:
    """Every record of every page, fetching one page at a time as the caller iterates."""
    if page_size < 1:
        raise ValueError(f"page_size must be at least 1; got {page_size}")
    page = 1
    while True:
        try:
            answer = fetch({**param, tags.page: page, tags.size: page_size})
        except NoRecordsError:
            return
        records = answer.get(records_field) or []
        yield from records
        total_pages = answer.get(tags.total_pages)
        if not records:
            return
        if total_pages is not None and page >= int(total_pages):
            return
        if total_pages is None and len(records) < page_size:
            return
        page += 1
