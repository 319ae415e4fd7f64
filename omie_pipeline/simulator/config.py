"""Settings of one simulator instance: credentials, seed data size and Omie's limits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

REGIMES = ("Simples Nacional", "Lucro Presumido", "Lucro Real")

MAX_PAGE_SIZES: Mapping[str, int] = MappingProxyType(
    {
        "ListarClientes": 500,
        "ListarClientesResumido": 500,
        "ListarEmpresas": 500,
        "ListarOS": 200,
        "ListarNFSEs": 200,
        "ListarCadastroServico": 200,
    }
)
"""Largest page each listing accepts. Omie documents 500 for ListarClientes (omie-api.md §3, §15);
for ListarOS, ListarNFSEs and ListarCadastroServico it documents none, integrators use 50 to 200 and
some report refusals above that, so the simulator refuses pages over 200: a client that assumes
500 everywhere fails here as it may fail against Omie."""

DEFAULT_MAX_PAGE_SIZE = 500
"""For a listing not named in `MAX_PAGE_SIZES`: Omie's general recommendation."""


@dataclass(frozen=True)
class SimulatorConfig:
    """Everything that shapes one simulated Omie company and its API limits.

    The defaults are Omie's production limits; tests shrink the windows and counts so that every
    limit can be tripped and seen to reset within a second or two. `max_page_sizes` overrides the
    largest page of single listings (by call name) over `MAX_PAGE_SIZES`; `pdf_link_seconds` is
    how long a PDF link from StatusOS / ObterNFSe stays valid.
    """

    seed: int = 7
    clients: int = 50
    app_key: str = "1234567890"
    app_secret: str = "sim-secret"
    window_seconds: float = 60.0
    redundant_seconds: float = 60.0
    per_method_limit: int = 240
    per_ip_limit: int = 960
    max_concurrent_per_method: int = 4
    serialised_methods: frozenset[str] = field(default_factory=frozenset)
    misuse_error_threshold: int = 10
    misuse_block_seconds: float = 1800.0
    nfse_delay: tuple[float, float] = (1.0, 5.0)
    rejection_rate: float = 0.0
    regime: str = "Lucro Presumido"
    max_page_sizes: Mapping[str, int] = field(default_factory=dict)
    pdf_link_seconds: float = 600.0
    latency: tuple[float, float] = (0.0, 0.0)
    number_width: int = 0

    def __post_init__(self) -> None:
        if self.regime not in REGIMES:
            raise ValueError(f"regime must be one of {', '.join(REGIMES)}; got {self.regime!r}")
        low, high = self.nfse_delay
        if low < 0 or high < low:
            raise ValueError(f"nfse_delay must be (min, max) with 0 <= min <= max; got {self.nfse_delay!r}")
        low, high = self.latency
        if low < 0 or high < low:
            raise ValueError(f"latency must be (min, max) with 0 <= min <= max; got {self.latency!r}")
        if not 0.0 <= self.rejection_rate <= 1.0:
            raise ValueError(f"rejection_rate must be between 0 and 1; got {self.rejection_rate!r}")
        if self.number_width < 0:
            raise ValueError(f"number_width must not be negative; got {self.number_width!r}")
        if self.clients < 0:
            raise ValueError(f"clients must not be negative; got {self.clients!r}")
        for name in ("per_method_limit", "per_ip_limit", "max_concurrent_per_method", "misuse_error_threshold"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1; got {getattr(self, name)!r}")
        for call, size in dict(self.max_page_sizes).items():
            if not isinstance(size, int) or size < 1:
                raise ValueError(f"max_page_sizes[{call!r}] must be a whole number of at least 1; got {size!r}")
        if self.pdf_link_seconds <= 0:
            raise ValueError(f"pdf_link_seconds must be positive; got {self.pdf_link_seconds!r}")
        if self.window_seconds <= 0:
            raise ValueError(f"window_seconds must be positive; got {self.window_seconds!r}")
        if self.redundant_seconds < 0 or self.misuse_block_seconds < 0:
            raise ValueError("redundant_seconds and misuse_block_seconds must not be negative")
        object.__setattr__(self, "serialised_methods", frozenset(self.serialised_methods))
        object.__setattr__(self, "max_page_sizes", MappingProxyType({**MAX_PAGE_SIZES, **dict(self.max_page_sizes)}))
        object.__setattr__(self, "nfse_delay", (float(self.nfse_delay[0]), float(self.nfse_delay[1])))
        object.__setattr__(self, "latency", (float(self.latency[0]), float(self.latency[1])))

    def max_page_size(self, call: str) -> int:
        """The largest page `call` accepts."""
        return self.max_page_sizes.get(call, DEFAULT_MAX_PAGE_SIZE)
