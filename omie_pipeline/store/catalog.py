"""Queries on the service catalog, the product -> service map and the products of closed deals.

Each function takes a connection, so the caller decides what one transaction holds.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from omie_pipeline.i18n import _
from omie_pipeline.store.tables import deals, invoices, service_codes, service_map
from omie_pipeline.store.tax_rates import (
    CompanyProfileVersion,
    TaxRateVersion,
    company_profile_in_force,
    open_rate_versions,
)
from omie_pipeline.store.upsert import upsert

# An invoice in these statuses has already been sent: its deal needs no service any more. A deal
# with no invoice, or one in "error" (fixed and resent under the same key), still does.
SENT_INVOICE_STATUSES = ("submitted", "processing", "issued", "cancelled")


@dataclass(frozen=True)
class CatalogService:
    """One Omie service as last listed; `code` is the `cCodigo` people see and the map names."""

    service_id: int
    integration_code: str | None
    code: str | None
    description: str | None
    municipal_code: str | None
    lc116_code: str | None
    nbs_code: str | None
    taxation_type: str | None
    unit_price: Decimal | None
    inactive: bool
    taxes: dict[str, Any] | None
    changed_at: datetime | None
    synced_at: datetime


class ProductProblemReason(StrEnum):
    """Why a product cannot be invoiced; the value is what checks and the CLI report."""

    UNMAPPED = "unmapped"
    UNKNOWN_SERVICE = "unknown_service"
    INACTIVE_SERVICE = "inactive_service"
    AMBIGUOUS_SERVICE = "ambiguous_service"


@dataclass(frozen=True)
class ProductProblem:
    """A product that cannot be invoiced as it stands, with the number of deals waiting on it."""

    product_code: str
    reason: ProductProblemReason
    service_code: str | None
    deals: int

    @property
    def message(self) -> str:
        """The problem and its fix in one sentence, for the person who maintains the service map."""
        if self.reason is ProductProblemReason.UNMAPPED:
            return _(
                "product {product} has no service in the service map; add a line '{product}: <Omie service code>'"
            ).format(product=self.product_code)
        if self.reason is ProductProblemReason.UNKNOWN_SERVICE:
            template = _(
                "product {product} maps to service {service}, which is not in Omie's catalog; fix the code in the "
                "service map or create the service in Omie"
            )
        elif self.reason is ProductProblemReason.INACTIVE_SERVICE:
            template = _(
                "product {product} maps to service {service}, which is inactive in Omie; map it to an active "
                "service or reactivate the service"
            )
        else:
            template = _(
                "product {product} maps to service code {service}, which several Omie services share; give each "
                "service its own code in Omie"
            )
        return template.format(product=self.product_code, service=self.service_code)


class ProductServiceError(LookupError):
    """The product of a deal has no usable Omie service; `problem` says why (in the reader's language)."""

    def __init__(self, problem: ProductProblem) -> None:
        super().__init__(problem.message)
        self.problem = problem


# --- catalog --------------------------------------------------------------------------------


def upsert_services(connection: sa.Connection, rows: Iterable[Mapping[str, Any]]) -> int:
    """Insert or update catalog rows (`service_codes` columns; `taxes` as a dict or None)."""
    prepared = [{**row, "taxes": _taxes_json(row.get("taxes"))} for row in rows]
    return upsert(connection, service_codes, prepared, ["account", "service_id"])


def remove_services(connection: sa.Connection, account: str, service_ids: Collection[int]) -> int:
    """Forget these services (gone from Omie, or no longer readable)."""
    if not service_ids:
        return 0
    statement = sa.delete(service_codes).where(
        service_codes.c.account == account, service_codes.c.service_id.in_(list(service_ids))
    )
    return connection.execute(statement).rowcount


def stored_service_ids(connection: sa.Connection, account: str) -> set[int]:
    """The Omie ids of the account's stored services: a full load removes those Omie no longer lists."""
    query = sa.select(service_codes.c.service_id).where(service_codes.c.account == account)
    return set(connection.execute(query).scalars())


def list_services(connection: sa.Connection, account: str) -> list[CatalogService]:
    """The account's catalog, ordered by code."""
    query = (
        sa.select(service_codes)
        .where(service_codes.c.account == account)
        .order_by(service_codes.c.code, service_codes.c.service_id)
    )
    return [_service(row) for row in connection.execute(query).mappings()]


def services_by_code(connection: sa.Connection, account: str) -> dict[str, list[CatalogService]]:
    """Catalog services grouped by their `cCodigo` (a list, since Omie does not enforce uniqueness)."""
    grouped: dict[str, list[CatalogService]] = {}
    for service in list_services(connection, account):
        if service.code:
            grouped.setdefault(service.code, []).append(service)
    return grouped


# --- product -> service map -----------------------------------------------------------------


def replace_service_map(
    connection: sa.Connection, account: str, entries: Mapping[str, str], loaded_at: datetime
) -> None:
    """Make `entries` (product code -> service code) the account's whole map."""
    connection.execute(sa.delete(service_map).where(service_map.c.account == account))
    rows = [
        {"account": account, "product_code": product, "service_code": service, "loaded_at": loaded_at}
        for product, service in entries.items()
    ]
    if rows:
        connection.execute(sa.insert(service_map), rows)


def stored_service_map(connection: sa.Connection, account: str) -> dict[str, str]:
    """The account's map as loaded last: product code -> service code."""
    query = (
        sa.select(service_map.c.product_code, service_map.c.service_code)
        .where(service_map.c.account == account)
        .order_by(service_map.c.product_code)
    )
    return {row.product_code: row.service_code for row in connection.execute(query)}


def service_map_loaded_at(connection: sa.Connection, account: str) -> datetime | None:
    """When the service map was last loaded (None: never), so `services list` shows how current it is."""
    query = sa.select(sa.func.max(service_map.c.loaded_at)).where(service_map.c.account == account)
    return connection.execute(query).scalar_one_or_none()


# --- products of closed deals ---------------------------------------------------------------


def products_awaiting_invoice(connection: sa.Connection, account: str) -> dict[str, int]:
    """Product code -> number of valid closed deals with that product still to be invoiced."""
    sent = sa.select(invoices.c.deal_id).where(
        invoices.c.account == account, invoices.c.status.in_(SENT_INVOICE_STATUSES)
    )
    query = (
        sa.select(deals.c.product_code, sa.func.count().label("deals"))
        .where(
            deals.c.account == account,
            deals.c.is_valid.is_(True),
            deals.c.product_code.is_not(None),
            deals.c.deal_id.not_in(sent),
        )
        .group_by(deals.c.product_code)
        .order_by(deals.c.product_code)
    )
    return {row.product_code: row.deals for row in connection.execute(query)}


def product_problems(connection: sa.Connection, account: str) -> list[ProductProblem]:
    """Every product of a deal awaiting invoice that is unmapped or maps to an unusable service."""
    mapping = stored_service_map(connection, account)
    catalog = services_by_code(connection, account)
    problems = []
    for product, count in products_awaiting_invoice(connection, account).items():
        problem = _problem_of(product, mapping, catalog, count)
        if problem is not None:
            problems.append(problem)
    return problems


def find_product_service(connection: sa.Connection, account: str, product_code: str) -> CatalogService:
    """The active Omie service a product is invoiced as; ProductServiceError says why there is none."""
    mapping = stored_service_map(connection, account)
    catalog = services_by_code(connection, account)
    problem = _problem_of(product_code, mapping, catalog, deals=1)
    if problem is not None:
        raise ProductServiceError(problem)
    return catalog[mapping[product_code]][0]


def _problem_of(
    product: str, mapping: Mapping[str, str], catalog: Mapping[str, list[CatalogService]], deals: int
) -> ProductProblem | None:
    service_code = mapping.get(product)
    if service_code is None:
        return ProductProblem(product, ProductProblemReason.UNMAPPED, None, deals)
    services = catalog.get(service_code, [])
    if not services:
        return ProductProblem(product, ProductProblemReason.UNKNOWN_SERVICE, service_code, deals)
    if len(services) > 1:
        return ProductProblem(product, ProductProblemReason.AMBIGUOUS_SERVICE, service_code, deals)
    if services[0].inactive:
        return ProductProblem(product, ProductProblemReason.INACTIVE_SERVICE, service_code, deals)
    return None


def _taxes_json(taxes: Mapping[str, Any] | str | None) -> str | None:
    if taxes is None or isinstance(taxes, str):
        return taxes
    return json.dumps(dict(taxes), sort_keys=True, default=str)


def _service(row: Mapping[str, Any]) -> CatalogService:
    values = dict(row)
    values.pop("account")
    values["taxes"] = json.loads(values["taxes"]) if values["taxes"] else None
    return CatalogService(**values)


# --- overview -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceOverview:
    """One catalog service with the products mapped to it and its rates in force (None if none)."""

    service: CatalogService
    products: tuple[str, ...]
    rates: TaxRateVersion | None


@dataclass(frozen=True)
class CatalogOverview:
    """What `services list` shows for one account: services, the map, the company and what cannot be invoiced."""

    account: str
    services: list[ServiceOverview]
    service_map: dict[str, str]
    map_loaded_at: datetime | None
    product_problems: list[ProductProblem]
    company: CompanyProfileVersion | None

    @property
    def nothing_loaded(self) -> bool:
        """Neither the catalog nor the map has been loaded for the account: nothing can be said about products."""
        return not self.services and not self.service_map

    @property
    def map_lines_outside_catalog(self) -> dict[str, str]:
        """Map lines (product -> service code) naming a service the catalog does not hold: no deal of theirs can
        be invoiced, so they are problems, not mapped products. Empty until the catalog is loaded.
        """
        if not self.services:
            return {}
        codes = {item.service.code for item in self.services}
        return {product: code for product, code in self.service_map.items() if code not in codes}


def catalog_overview(connection: sa.Connection, account: str) -> CatalogOverview:
    """Everything `services list` shows: the catalog, the map, the regime and what cannot be invoiced."""
    mapping = stored_service_map(connection, account)
    products: dict[str, list[str]] = {}
    for product, service_code in mapping.items():
        products.setdefault(service_code, []).append(product)
    versions = open_rate_versions(connection, account)
    services = [
        ServiceOverview(service, tuple(products.get(service.code or "", ())), versions.get(service.code or ""))
        for service in list_services(connection, account)
    ]
    return CatalogOverview(
        account,
        services,
        mapping,
        service_map_loaded_at(connection, account),
        product_problems(connection, account),
        company_profile_in_force(connection, account),
    )
