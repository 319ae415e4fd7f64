"""Settings of one simulator instance: its companies (credentials, seed, data size) and Omie's limits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from omie_pipeline.simulator import documents

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
class CompanyConfig:
    """One Omie company (empresa) the simulator serves: the key pair that selects it, the seed of
    its data and its identity. `cnpj`, `razao_social` and `nome_fantasia` left empty are the
    seed's own (a CNPJ drawn from `seed`, the simulator's standard names)."""

    app_key: str
    app_secret: str
    seed: int = 7
    clients: int = 50
    regime: str = "Lucro Presumido"
    cnpj: str = ""
    razao_social: str = ""
    nome_fantasia: str = ""

    def __post_init__(self) -> None:
        if not str(self.app_key).strip() or not str(self.app_secret).strip():
            raise ValueError("a company needs a non-empty app_key and app_secret")
        object.__setattr__(self, "app_key", str(self.app_key))
        if self.regime not in REGIMES:
            raise ValueError(f"regime must be one of {', '.join(REGIMES)}; got {self.regime!r}")
        if self.clients < 0:
            raise ValueError(f"clients must not be negative; got {self.clients!r}")
        if self.cnpj:
            digits = documents.normalise(self.cnpj)
            if len(digits) != 14 or not documents.is_valid_cnpj(digits):
                raise ValueError(f"company {self.app_key}: cnpj {self.cnpj!r} is not a valid CNPJ")
            object.__setattr__(self, "cnpj", documents.formatted(digits))


def derived_companies(
    count: int, app_key: str, app_secret: str, seed: int = 7, clients: int = 50, regime: str = "Lucro Presumido"
) -> tuple[CompanyConfig, ...]:
    """`count` companies derived from one key pair and seed, the same on every run: company 1 is
    exactly the single-company default (`app_key`, `app_secret`, `seed`); company n has key
    `app_key` + n − 1 (as a number when the key is one, else `app_key-n`), secret
    `app_secret-n`, seed `seed` + n − 1 and the names "Simulada n ...". These secrets are test
    values of the simulator only."""
    if count < 1:
        raise ValueError(f"companies must be at least 1; got {count!r}")
    companies = [CompanyConfig(app_key, app_secret, seed, clients, regime)]
    for number in range(2, count + 1):
        key = str(int(app_key) + number - 1) if app_key.isdigit() else f"{app_key}-{number}"
        companies.append(
            CompanyConfig(
                key,
                f"{app_secret}-{number}",
                seed + number - 1,
                clients,
                regime,
                razao_social=f"Simulada {number} Tecnologia e Serviços Ltda",
                nome_fantasia=f"Simulada Tech {number}",
            )
        )
    return tuple(companies)


@dataclass(frozen=True)
class SimulatorConfig:
    """Everything that shapes one simulator instance: the companies it serves and Omie's limits.

    Without `companies` it serves one company made of `app_key`, `app_secret`, `seed`, `clients`
    and `regime`. With `companies` it serves each of them (each its own key pair and data) and
    those five fields are set from the first company, so `config.app_key` is always the first
    company's key. The limits are Omie's and apply alike to every company: the per-method window
    and concurrency per (IP, app key, method), the per-IP window across all keys.

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
    companies: tuple[CompanyConfig, ...] = ()

    def __post_init__(self) -> None:
        companies = tuple(self.companies)
        object.__setattr__(self, "companies", companies)
        if companies:
            keys = [company.app_key for company in companies]
            repeated = sorted({key for key in keys if keys.count(key) > 1})
            if repeated:
                raise ValueError(f"each company needs its own app_key; repeated: {', '.join(repeated)}")
            first = companies[0]
            for name in ("app_key", "app_secret", "seed", "clients", "regime"):
                object.__setattr__(self, name, getattr(first, name))
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

    def company_configs(self) -> tuple[CompanyConfig, ...]:
        """The companies served, in order: `companies`, or the one company of the top-level fields."""
        if self.companies:
            return self.companies
        return (CompanyConfig(self.app_key, self.app_secret, self.seed, self.clients, self.regime),)

    def for_company(self, company: CompanyConfig) -> SimulatorConfig:
        """These settings as one company's calls see them: its key pair, seed, client count and regime."""
        return replace(
            self,
            app_key=company.app_key,
            app_secret=company.app_secret,
            seed=company.seed,
            clients=company.clients,
            regime=company.regime,
            companies=(),
        )

    def max_page_size(self, call: str) -> int:
        """The largest page `call` accepts."""
        return self.max_page_sizes.get(call, DEFAULT_MAX_PAGE_SIZE)
