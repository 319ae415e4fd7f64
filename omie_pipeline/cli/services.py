"""`omie-pipeline services ...`: the service catalog, the product map and the tax rate history."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from omie_pipeline.cli import main
from omie_pipeline.domain.taxes import WITHHOLDABLE_TAXES
from omie_pipeline.domain.timeutil import to_sao_paulo
from omie_pipeline.i18n import _, format_moment, format_money, format_number, ngettext
from omie_pipeline.settings import Settings, SettingsError, load_settings
from omie_pipeline.store import Store
from omie_pipeline.store.catalog import (
    CatalogOverview,
    ServiceOverview,
    catalog_overview,
)
from omie_pipeline.store.tax_rates import RATE_FIELDS, TaxRateVersion, rate_history

_ACCOUNT_HELP = "Account in the state store (default: OMIE_PIPELINE_ACCOUNT)."


@main.group()
def services() -> None:
    """The Omie service catalog, the product -> service map and the tax rates."""


@services.command("list")
@click.option("--account", help=_ACCOUNT_HELP)
@click.option("--refresh", is_flag=True, help="Load the map file and pull the catalog and rates from Omie first.")
@click.option("--full", is_flag=True, help="With --refresh: list every service, not only those changed.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def list_services_command(account: str | None, refresh: bool, full: bool, as_json: bool) -> None:
    """The catalog with each service's mapped products and rates, then the products that cannot be invoiced."""
    settings = _settings()
    account = account or settings.omie_pipeline_account
    store = Store(settings.db_url)
    try:
        if refresh:
            _refresh(settings, store, account, full)
        elif full:
            raise click.UsageError(_("--full only applies with --refresh"))
        with store.connect() as connection:
            overview = catalog_overview(connection, account)
    finally:
        store.dispose()
    if as_json:
        click.echo(json.dumps(_overview_json(overview), indent=2, ensure_ascii=False))
    else:
        _print_overview(overview)


@services.command("load-map")
@click.option("--account", help=_ACCOUNT_HELP)
@click.option(
    "--file",
    "path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Map file (default: OMIE_PIPELINE_SERVICE_MAP).",
)
def load_map_command(account: str | None, path: Path | None) -> None:
    """Check the product -> service map file and load it into the state store (no call to Omie)."""
    from omie_pipeline.sync.service_map import (
        ServiceMapError,
        load_service_map,
        service_map_path,
    )

    settings = _settings()
    account = account or settings.omie_pipeline_account
    store = Store(settings.db_url)
    try:
        loaded = load_service_map(store, account, path or service_map_path(settings.omie_pipeline_service_map))
    except ServiceMapError as error:
        raise click.ClickException(str(error)) from None
    finally:
        store.dispose()
    click.echo(
        ngettext(
            "{count} product mapped from {path} into account {account}",
            "{count} products mapped from {path} into account {account}",
            len(loaded.entries),
        ).format(count=len(loaded.entries), path=loaded.path, account=account)
    )
    for problem in loaded.problems:
        click.echo(_("  left out: {problem}").format(problem=problem), err=True)
    if loaded.problems:
        raise SystemExit(1)


@services.command("history")
@click.argument("service_code", required=False)
@click.option("--account", help=_ACCOUNT_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list.")
def history_command(service_code: str | None, account: str | None, as_json: bool) -> None:
    """Every tax rate version (of one service, or all), with the period it was in force."""
    settings = _settings()
    account = account or settings.omie_pipeline_account
    store = Store(settings.db_url)
    try:
        with store.connect() as connection:
            versions = rate_history(connection, account, service_code)
    finally:
        store.dispose()
    if as_json:
        click.echo(json.dumps([_version_json(version) for version in versions], indent=2))
        return
    if not versions:
        click.echo(
            _("no tax rates recorded for {service} in account {account}").format(
                service=service_code or _("any service"), account=account
            )
        )
        return
    for version in versions:
        until = _when(version.valid_to) if version.valid_to else _("in force")
        click.echo(
            f"{version.service_code}  #{version.id}  {_when(version.valid_from)} -> {until}  {version.regime.value}"
        )
        click.echo(f"    {_rates_text(version)}")


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as error:
        raise click.ClickException(str(error)) from None


def _refresh(settings: Settings, store: Store, account: str, full: bool) -> None:
    from omie_pipeline.defs.resources import omie_client_for
    from omie_pipeline.omie.errors import OmieError
    from omie_pipeline.sync.catalog import sync_catalog
    from omie_pipeline.sync.service_map import (
        ServiceMapError,
        load_service_map,
        service_map_path,
    )
    from omie_pipeline.sync.tax_rates import UnknownRegimeError, sync_tax_rates

    try:
        settings.require_omie_credentials()
        loaded = load_service_map(store, account, service_map_path(settings.omie_pipeline_service_map))
    except (SettingsError, ServiceMapError) as error:
        raise click.ClickException(str(error)) from None
    for problem in loaded.problems:
        click.echo(_("service map {path}, {problem}").format(path=loaded.path, problem=problem), err=True)
    client = omie_client_for(settings, store)
    try:
        catalog = sync_catalog(client, store, account, full=full)
        rates = sync_tax_rates(client, store, account, confirmed_regime=settings.omie_pipeline_tax_regime)
    except (OmieError, UnknownRegimeError) as error:
        raise click.ClickException(str(error)) from None
    finally:
        client.close()
    for problem in [*catalog.problems, *rates.problems]:
        click.echo(_("not usable: {problem}").format(problem=problem), err=True)
    click.echo(
        _("refreshed from Omie: {listed} ({which}), {opened}, {closed} closed").format(
            listed=ngettext("{count} service listed", "{count} services listed", catalog.listed).format(
                count=catalog.listed
            ),
            which=_("full") if catalog.full else _("changed only"),
            opened=ngettext(
                "{count} rate version opened", "{count} rate versions opened", rates.versions_created
            ).format(count=rates.versions_created),
            closed=rates.versions_closed,
        ),
        err=True,
    )


def _print_overview(overview: CatalogOverview) -> None:
    company = overview.company
    regime = company.profile.regime.value if company else _("unknown (run with --refresh)")
    outside = overview.map_lines_outside_catalog
    click.echo(
        _("Account {account}: regime {regime}; {services}, {mapped}").format(
            account=overview.account,
            regime=regime,
            services=ngettext("{count} service", "{count} services", len(overview.services)).format(
                count=len(overview.services)
            ),
            mapped=_mapped(len(overview.service_map) - len(outside)),
        )
    )
    if overview.nothing_loaded:
        click.echo(
            "\n"
            + _(
                "Nothing loaded yet: no catalog and no service map for this account. Load them with "
                "`omie-pipeline services list --refresh` (or materialise the catalog job, `catalog_job`), "
                "or the map alone with `omie-pipeline services load-map`."
            )
        )
        return
    if overview.services:
        code, active, price, iss = _("code"), _("active"), _("price"), _("ISS %")
        withheld, products, description = _("withheld"), _("products"), _("description")
        click.echo(
            f"{code:<10} {active:<6} {'LC116':<6} {price:>14}  {iss:>5}  {withheld:<27} {products:<24} {description}"
        )
    for item in overview.services:
        service = item.service
        price = format_money(service.unit_price) if service.unit_price is not None else ""
        iss = _percent(item.rates.rates.iss) if item.rates else "-"
        withheld = _withheld(item) if item.rates else _("no rates")
        code = service.code or _("(no code)")
        active = _("no") if service.inactive else _("yes")
        click.echo(
            f"{code:<10} {active:<6} "
            f"{service.lc116_code or '':<6} {price:>14}  {iss:>5}  {withheld:<27} "
            f"{', '.join(item.products) or '-':<24} {service.description or ''}"
        )
    if not overview.services:
        click.echo(
            "\n" + _("The catalog is not loaded yet: run `omie-pipeline services list --refresh` (or `catalog_job`).")
        )
    if outside:
        click.echo("\n" + _("Map lines naming a service that is not in the catalog:"))
        for product, code in sorted(outside.items()):
            click.echo(
                _("  {product}: {code} is not in Omie's catalog - correct the line in the service map").format(
                    product=product, code=code
                )
            )
    if overview.product_problems:
        click.echo("\n" + _("Products of closed deals that cannot be invoiced:"))
        for problem in overview.product_problems:
            click.echo(
                ngettext(
                    "  {product}: {reason} ({count} deal) - {message}",
                    "  {product}: {reason} ({count} deals) - {message}",
                    problem.deals,
                ).format(
                    product=problem.product_code,
                    reason=problem.reason.value,
                    count=problem.deals,
                    message=problem.message,
                )
            )
    elif overview.services and not outside:
        click.echo("\n" + _("Every product of a closed deal awaiting invoice maps to an active service."))


def _mapped(count: int) -> str:
    return ngettext("{count} product mapped", "{count} products mapped", count).format(count=count)


def _withheld(item: ServiceOverview) -> str:
    rates = item.rates.rates
    return " ".join(tax.label for tax in WITHHOLDABLE_TAXES if rates.retains(tax)) or _("none")


def _overview_json(overview: CatalogOverview) -> dict[str, Any]:
    company = overview.company
    return {
        "account": overview.account,
        "regime": company.profile.regime.value if company else None,
        "services": [
            {
                "service_id": item.service.service_id,
                "code": item.service.code,
                "integration_code": item.service.integration_code,
                "description": item.service.description,
                "municipal_code": item.service.municipal_code,
                "lc116_code": item.service.lc116_code,
                "nbs_code": item.service.nbs_code,
                "taxation_type": item.service.taxation_type,
                "unit_price": _decimal(item.service.unit_price),
                "inactive": item.service.inactive,
                "products": list(item.products),
                "rates": _version_json(item.rates) if item.rates else None,
            }
            for item in overview.services
        ],
        "service_map": overview.service_map,
        "nothing_loaded": overview.nothing_loaded,
        "map_lines_outside_catalog": overview.map_lines_outside_catalog,
        "service_map_loaded_at": overview.map_loaded_at.isoformat() if overview.map_loaded_at else None,
        "unmapped_products": [
            {
                "product_code": problem.product_code,
                "problem": problem.reason.value,
                "service_code": problem.service_code,
                "deals": problem.deals,
                "message": problem.message,
            }
            for problem in overview.product_problems
        ],
    }


def _version_json(version: TaxRateVersion) -> dict[str, Any]:
    return {
        "id": version.id,
        "service_code": version.service_code,
        "regime": version.regime.value,
        "valid_from": version.valid_from.isoformat(),
        "valid_to": version.valid_to.isoformat() if version.valid_to else None,
        **{
            name: (value if isinstance(value := getattr(version.rates, name), bool) else _decimal(value))
            for name in RATE_FIELDS
        },
    }


def _rates_text(version: TaxRateVersion) -> str:
    return ", ".join(_rate_part(version, name) for name in RATE_FIELDS if not name.startswith("retain_"))


def _rate_part(version: TaxRateVersion, name: str) -> str:
    rates = version.rates
    retained = getattr(rates, f"retain_{name}", False)
    return f"{name.upper()} {_percent(getattr(rates, name))}%" + (" " + _("withheld") if retained else "")


def _percent(value: Decimal) -> str:
    """A rate as the reader writes it: `4,65` in pt-BR, `4.65` in en."""
    return format_number(value.normalize()) if value else "0"


def _decimal(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _when(moment) -> str:
    return format_moment(to_sao_paulo(moment))
