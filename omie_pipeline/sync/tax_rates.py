"""The company's tax regime and each service's rates, versioned in the store, and their checks.

The regime comes from Omie's company record and the rates from the catalog's `impostos` (as the
catalog sync stored them). A regime that cannot be read stops the sync: invoicing under a guessed
regime is a tax error. Rates are percentages, as in Omie (5 = 5 %).

Omie does not document the codes of `regime_tributario`, so a code is never read as a regime: the
regime comes from its name written out, from `optante_simples_nacional` = "S", or from the regime a
person confirmed (`OMIE_PIPELINE_TAX_REGIME`), which must agree with whatever Omie does say.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from omie_pipeline.domain.taxes import Regime, Tax, TaxRates, check_rates, regime_from_name
from omie_pipeline.domain.timeutil import now_utc
from omie_pipeline.i18n import _, format_number
from omie_pipeline.omie.models import CompanyRecord
from omie_pipeline.store import Store
from omie_pipeline.store.catalog import (
    CatalogService,
    services_by_code,
    stored_service_map,
)
from omie_pipeline.store.tax_rates import (
    CompanyProfile,
    VersionChange,
    close_rates,
    lock_account_versions,
    open_rate_versions,
    record_company_profile,
    record_rates,
)

# Catalog `impostos` field -> TaxRates field (note the catalog writes IR, not IRRF).
RATE_TAGS = {
    "nAliqISS": "iss",
    "nAliqPIS": "pis",
    "nAliqCOFINS": "cofins",
    "nAliqCSLL": "csll",
    "nAliqIR": "ir",
    "nAliqINSS": "inss",
    "nAliqIbsUf": "ibs_uf",
    "nAliqIbsMun": "ibs_mun",
    "nAliqCbs": "cbs",
}
RETENTION_TAGS = {
    "cRetISS": "retain_iss",
    "cRetPIS": "retain_pis",
    "cRetCOFINS": "retain_cofins",
    "cRetCSLL": "retain_csll",
    "cRetIR": "retain_ir",
    "cRetINSS": "retain_inss",
}
# Base reductions change the amounts, but the tax rules compute on the full value: a service with
# one would be invoiced with taxes that differ from Omie's, so it is reported instead.
BASE_REDUCTION_TAGS = {"nRedBaseINSS": Tax.INSS, "nRedBasePIS": Tax.PIS, "nRedBaseCOFINS": Tax.COFINS}


class UnknownRegimeError(ValueError):
    """The company record does not say, unambiguously, which tax regime the company is under."""


class RateFieldError(ValueError):
    """A catalog tax field that cannot be read as a rate or a retention flag."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field_name = field_name
        self.message = message


# --- reading Omie's records -----------------------------------------------------------------


def parse_regime(company: CompanyRecord, confirmed: Regime | None = None) -> Regime:
    """The company's regime from `regime_tributario`, `optante_simples_nacional` and the regime a
    person confirmed (`confirmed`, from OMIE_PIPELINE_TAX_REGIME).

    Raises UnknownRegimeError when nothing says the regime, when Omie sends a code (undocumented,
    so unreadable) and no regime was confirmed, or when the sources disagree.
    """
    raw_regime = (company.regime_tributario or "").strip()
    raw_simples = (company.optante_simples_nacional or "").strip().upper()
    company_id = company.codigo_empresa
    if raw_simples not in ("", "S", "N"):
        raise UnknownRegimeError(
            _("company {company}: optante_simples_nacional is '{simples}', not S or N").format(
                company=company_id, simples=company.optante_simples_nacional
            )
        )
    named = regime_from_name(raw_regime) if raw_regime else None
    if named is not None and confirmed is not None and named is not confirmed:
        raise UnknownRegimeError(
            _(
                "company {company}: regime_tributario '{raw}' ({regime}) contradicts OMIE_PIPELINE_TAX_REGIME "
                "{confirmed}; correct one of them"
            ).format(company=company_id, raw=raw_regime, regime=named.value, confirmed=confirmed.value)
        )
    regime = named or confirmed or (Regime.SIMPLES_NACIONAL if raw_simples == "S" else None)
    if regime is None:
        raise UnknownRegimeError(
            _(
                "company {company}: {why}; no tax rates are derived from a guess: check the regime with finance and "
                "confirm it with OMIE_PIPELINE_TAX_REGIME=simples_nacional|lucro_presumido|lucro_real"
            ).format(company=company_id, why=_why_unreadable(raw_regime, raw_simples))
        )
    if raw_simples and (raw_simples == "S") != (regime is Regime.SIMPLES_NACIONAL):
        if named:
            template = _(
                "company {company}: regime_tributario '{raw}' ({regime}) contradicts optante_simples_nacional "
                "'{simples}'; correct the company record in Omie or the confirmed regime"
            )
        else:
            template = _(
                "company {company}: OMIE_PIPELINE_TAX_REGIME ({regime}) contradicts optante_simples_nacional "
                "'{simples}'; correct the company record in Omie or the confirmed regime"
            )
        raise UnknownRegimeError(
            template.format(company=company_id, raw=raw_regime, regime=regime.value, simples=raw_simples)
        )
    return regime


def _why_unreadable(raw_regime: str, raw_simples: str) -> str:
    if raw_regime:
        return _(
            "regime_tributario '{raw}' is not a regime's name, and Omie does not document its codes, so the regime "
            "cannot be read from it"
        ).format(raw=raw_regime)
    if raw_simples == "N":
        return _(
            "regime_tributario is empty and optante_simples_nacional is N, so Lucro Presumido and Lucro Real cannot "
            "be told apart"
        )
    return _("regime_tributario is empty and optante_simples_nacional is not set")


def company_profile(company: CompanyRecord, regime: Regime) -> CompanyProfile:
    return CompanyProfile(
        company_id=company.codigo_empresa,
        cnpj=company.cnpj.strip() or None,
        legal_name=company.razao_social.strip() or None,
        regime=regime,
        city=company.cidade.strip() or None,
        state=company.estado.strip().upper() or None,
        issues_nfse=company.issues_nfse,
    )


def rates_from_taxes(taxes: dict[str, Any] | None) -> TaxRates:
    """A service's rates and retention flags from the catalog's `impostos` (missing rate = 0)."""
    taxes = taxes or {}
    values: dict[str, Any] = {}
    for tag, name in RATE_TAGS.items():
        values[name] = _rate(tag, taxes.get(tag))
    for tag, name in RETENTION_TAGS.items():
        flag = str(taxes.get(tag) or "N").strip().upper()
        if flag not in ("S", "N"):
            raise RateFieldError(tag, _("'{value}' is not S or N").format(value=taxes.get(tag)))
        values[name] = flag == "S"
    try:
        return TaxRates(**values)
    except (TypeError, ValueError) as error:
        raise RateFieldError(_tag_named_in(str(error)), str(error)) from None


def _rate(tag: str, value: Any) -> Decimal:
    if value in (None, ""):
        return Decimal("0")
    try:
        rate = Decimal(str(value))
    except ArithmeticError:
        raise RateFieldError(tag, _("'{value}' is not a number").format(value=value)) from None
    if not rate.is_finite() or not Decimal(0) <= rate <= Decimal(100):
        raise RateFieldError(tag, _("'{value}' is not a percentage between 0 and 100").format(value=value))
    return rate


def _tag_named_in(message: str) -> str:
    for tag, name in RATE_TAGS.items():
        if f"the {name} rate" in message:
            return tag
    return "impostos"


# --- the sync -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceProblem:
    """A service whose rates could not be taken from the catalog; it has no rates in force."""

    service_code: str
    field: str
    message: str

    def __str__(self) -> str:
        return _("service {service}, {field}: {message}").format(
            service=self.service_code, field=self.field, message=self.message
        )


@dataclass
class TaxRatesSync:
    regime: Regime
    company: VersionChange | None
    services: int = 0
    changes: list[VersionChange] = field(default_factory=list)
    problems: list[ServiceProblem] = field(default_factory=list)

    @property
    def versions_created(self) -> int:
        return sum(1 for change in self.changes if change.current_id is not None)

    @property
    def versions_closed(self) -> int:
        return sum(1 for change in self.changes if change.previous_id is not None)


def the_company(client: Any) -> CompanyRecord:
    """The one company of the app key; more or none is an error, since the regime would be a guess."""
    companies = [company for company in client.list_companies() if (company.inativa or "").strip().upper() != "S"]
    if len(companies) != 1:
        raise UnknownRegimeError(
            _("Omie lists {count} active companies for this app key; expected exactly one").format(count=len(companies))
        )
    return companies[0]


def sync_tax_rates(
    client: Any, store: Store, account: str, now: datetime | None = None, *, confirmed_regime: Regime | None = None
) -> TaxRatesSync:
    """Version the company profile and every catalog service's rates as Omie has them now
    (`confirmed_regime`: the regime a person confirmed, see `parse_regime`).

    A service whose rates cannot be read, whose code several services share, or which left the
    catalog has its version in force closed: no rates is a blocking error, stale rates a silent one.
    """
    now = now or now_utc()
    company = the_company(client)
    regime = parse_regime(company, confirmed_regime)
    with store.connect() as connection:
        catalog = services_by_code(connection, account)

    wanted: dict[str, TaxRates] = {}
    problems: list[ServiceProblem] = []
    for code, services in catalog.items():
        if len(services) > 1:
            ids = ", ".join(str(service.service_id) for service in services)
            problems.append(
                ServiceProblem(code, "cCodigo", _("shared by services {ids}; each needs its own code").format(ids=ids))
            )
            continue
        try:
            wanted[code] = rates_from_taxes(services[0].taxes)
        except RateFieldError as error:
            problems.append(ServiceProblem(code, error.field_name, error.message))

    with store.begin() as connection:
        lock_account_versions(connection, account)
        summary = TaxRatesSync(
            regime=regime, company=record_company_profile(connection, account, company_profile(company, regime), now)
        )
        for code, rates in sorted(wanted.items()):
            change = record_rates(connection, account, code, regime, rates, now)
            if change is not None:
                summary.changes.append(change)
        for code in sorted(set(open_rate_versions(connection, account)) - set(wanted)):
            change = close_rates(connection, account, code, now)
            if change is not None:
                summary.changes.append(change)
    summary.services = len(wanted)
    summary.problems = problems
    return summary


# --- the checks -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RateRuleViolation:
    """A mapped service's rates that break a tax rule."""

    service_code: str
    rule: str
    tax: str
    message: str
    products: tuple[str, ...]

    def __str__(self) -> str:
        return _("service {service} ({products}): {rule}: {message}").format(
            service=self.service_code, products=", ".join(self.products), rule=self.rule, message=self.message
        )


@dataclass(frozen=True)
class MissingRates:
    service_code: str
    products: tuple[str, ...]

    def __str__(self) -> str:
        return _(
            "service {service} ({products}) has no tax rates in force; check that it is in Omie's catalog with "
            "readable rates and run tax_rates"
        ).format(service=self.service_code, products=", ".join(self.products))


def rate_rule_violations(store: Store, account: str) -> list[RateRuleViolation]:
    """Every rule broken by the rates in force of the services the map uses."""
    with store.connect() as connection:
        users = _products_by_service(stored_service_map(connection, account))
        versions = open_rate_versions(connection, account)
        catalog = services_by_code(connection, account)
    violations = []
    for code, products in sorted(users.items()):
        version = versions.get(code)
        if version is None:
            continue
        for problem in check_rates(version.rates, version.regime):
            violations.append(RateRuleViolation(code, problem.rule, problem.tax.label, problem.message, products))
        for service in catalog.get(code, [])[:1]:
            violations.extend(_base_reductions(service, products))
    return violations


def services_without_rates(store: Store, account: str) -> list[MissingRates]:
    """The services the map uses that have no rates in force."""
    with store.connect() as connection:
        users = _products_by_service(stored_service_map(connection, account))
        versions = open_rate_versions(connection, account)
    return [MissingRates(code, products) for code, products in sorted(users.items()) if code not in versions]


def _base_reductions(service: CatalogService, products: tuple[str, ...]) -> list[RateRuleViolation]:
    taxes = service.taxes or {}
    found = []
    for tag, tax in BASE_REDUCTION_TAGS.items():
        try:
            reduction = _rate(tag, taxes.get(tag))
        except RateFieldError:
            continue  # unreadable rates already leave the service without a version in force
        if reduction:
            found.append(
                RateRuleViolation(
                    service.code or "",
                    "base_reduction",
                    tax.label,
                    _(
                        "{tag} reduces the {tax} base by {reduction} %, which the pipeline's tax rules do not apply; "
                        "remove the reduction in Omie or invoice this service by hand"
                    ).format(tag=tag, tax=tax.label, reduction=format_number(reduction)),
                    products,
                )
            )
    return found


def _products_by_service(mapping: dict[str, str]) -> dict[str, tuple[str, ...]]:
    users: dict[str, list[str]] = {}
    for product, service in mapping.items():
        users.setdefault(service, []).append(product)
    return {service: tuple(sorted(products)) for service, products in users.items()}
