"""Catalog assets: Omie's services with the product map, and the versioned tax rates, with their checks.

The product check sits on `tax_rates`, the last asset of the catalog, not on `service_catalog`: a
blocking failure there would stop the rates from being refreshed at all, and an unmapped product
must never leave every other service with stale rates. It does not block: a CRM typo in one
deal's product must not fail the catalog run nor hold back the other deals; those deals wait as
reconciliation issues (stage "invoice") and the failed ERROR check is what the data team sees.
"""

from collections.abc import Sequence
from datetime import timedelta

import dagster as dg

from omie_pipeline.defs.metadata import MAX_TABLE_ROWS, markdown_table
from omie_pipeline.defs.partitions import accounts
from omie_pipeline.defs.resources import OmieResource, StoreResource
from omie_pipeline.defs.retries import READ_RETRY, retry_only_transient
from omie_pipeline.settings import load_settings
from omie_pipeline.store.catalog import product_problems
from omie_pipeline.sync.catalog import sync_catalog
from omie_pipeline.sync.service_map import MapProblem, load_service_map, service_map_path
from omie_pipeline.sync.tax_rates import rate_rule_violations, services_without_rates, sync_tax_rates

GROUP = "catalog"
DAILY_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=30), warn_window=timedelta(hours=25))
# Only Omie being briefly unavailable is worth a retry of the step; a blocked key, wrong keys, an
# unknown regime or a broken map file fail the same way again.
MAP_FILE_CHECK = "service_map_file_valid"


class CatalogConfig(dg.Config):
    full_reload: bool = False  # list every service instead of those changed since the last sync


@dg.asset(
    partitions_def=accounts, pool="omie_api", group_name=GROUP, kinds={"omie", "yaml"},
    retry_policy=READ_RETRY, freshness_policy=DAILY_FRESHNESS,
    check_specs=[dg.AssetCheckSpec(MAP_FILE_CHECK, asset="service_catalog",
                                   description="Every line of the product -> service map file can be read.")],
)  # fmt: skip
def service_catalog(context: dg.AssetExecutionContext, config: CatalogConfig, omie: OmieResource,
                    store: StoreResource) -> dg.MaterializeResult:  # fmt: skip
    """Omie's service catalog of one account, and the product -> service map loaded from its file."""
    account = context.partition_key
    with retry_only_transient():
        synced = sync_catalog(omie.client(store.store()), store.store(), account, full=config.full_reload)
        loaded = load_service_map(store.store(), account, service_map_path(load_settings()))
    for problem in synced.problems:
        context.log.warning("not stored: %s", problem)
    for problem in loaded.problems:
        context.log.warning("service map %s %s", loaded.path, problem)
    context.log.info("%s services listed (%s), %s in the catalog; %s products mapped",
                     synced.listed, "full" if synced.full else "changed only", synced.total, len(loaded.entries))
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": synced.total,
            "listing": "full" if synced.full else "changed since last sync",
            "services_listed": synced.listed,
            "services_new": synced.new,
            "services_removed": synced.removed,
            "services_inactive": synced.inactive,
            "services_not_stored": len(synced.problems),
            "products_mapped": len(loaded.entries),
            "service_map_file": dg.MetadataValue.path(str(loaded.path)),
            "map_lines_left_out": len(loaded.problems),
            **({"not_stored": dg.MetadataValue.md(_bullets(map(str, synced.problems)))} if synced.problems else {}),
        },
        check_results=[_map_file_result(loaded.problems)],
    )


@dg.asset(
    partitions_def=accounts, pool="omie_api", group_name=GROUP, kinds={"omie"}, deps=[service_catalog],
    retry_policy=READ_RETRY, freshness_policy=DAILY_FRESHNESS,
)  # fmt: skip
def tax_rates(context: dg.AssetExecutionContext, omie: OmieResource, store: StoreResource) -> dg.MaterializeResult:
    """The company's tax regime and each service's rates and retentions, as dated versions."""
    account = context.partition_key
    with retry_only_transient():
        synced = sync_tax_rates(omie.client(store.store()), store.store(), account,
                                confirmed_regime=load_settings().omie_pipeline_tax_regime)
    for problem in synced.problems:
        context.log.warning("no rates: %s", problem)
    context.log.info("regime %s; %s services; %s versions opened, %s closed", synced.regime.value,
                     synced.services, synced.versions_created, synced.versions_closed)
    changed = [change for change in synced.changes if change.kind != "first"]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": synced.services,
            "regime": synced.regime.value,
            "regime_changed": bool(synced.company and synced.company.kind == "changed"
                                   and any(f.field == "regime" for f in synced.company.fields)),
            "versions_opened": synced.versions_created,
            "versions_closed": synced.versions_closed,
            "services_changed": len(changed),
            "services_without_readable_rates": len(synced.problems),
            "what_changed": dg.MetadataValue.md(_changes_table(synced.changes, synced.company)),
            **({"unreadable_rates": dg.MetadataValue.md(_bullets(map(str, synced.problems)))} if synced.problems else {}),
        }
    )


@dg.asset_check(asset=tax_rates, name="closed_deal_products_invoiceable", blocking=False, partitions_def=accounts,
                description="Every product of a closed deal awaiting invoice maps to an active, known Omie service.")
def closed_deal_products_invoiceable(context: dg.AssetCheckExecutionContext, store: StoreResource) -> dg.AssetCheckResult:
    with store.store().connect() as connection:
        problems = product_problems(connection, context.partition_key)
    rows = [(p.product_code, p.reason.value, p.service_code or "", str(p.deals)) for p in problems]
    return dg.AssetCheckResult(
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        description=_summary([p.message + f" ({p.deals} deal{'s' * (p.deals != 1)})" for p in problems],
                             "every product of a closed deal maps to an active Omie service"),
        metadata={
            "products_failing": len(problems),
            "deals_waiting": sum(p.deals for p in problems),
            "products": dg.MetadataValue.json({p.product_code: p.reason.value for p in problems}),
            **({"details": dg.MetadataValue.md(markdown_table(("product", "problem", "service", "deals"), rows))}
               if rows else {}),
        },
    )


@dg.asset_check(asset=tax_rates, name="tax_rates_follow_rules", blocking=True, partitions_def=accounts,
                description="The rates of every mapped service agree with the regime's rules "
                            "(ISS 2-5 %, PIS/COFINS by regime, withholdings).")
def tax_rates_follow_rules(context: dg.AssetCheckExecutionContext, store: StoreResource) -> dg.AssetCheckResult:
    violations = rate_rule_violations(store.store(), context.partition_key)
    rows = [(v.service_code, v.rule, v.tax, v.message) for v in violations]
    return dg.AssetCheckResult(
        passed=not violations,
        severity=dg.AssetCheckSeverity.ERROR,
        description=_summary([f"{v.service_code}: {v.rule}: {v.message}" for v in violations],
                             "the rates of every mapped service follow the regime's rules"),
        metadata={
            "violations": len(violations),
            "services": dg.MetadataValue.json(sorted({v.service_code for v in violations})),
            **({"details": dg.MetadataValue.md(markdown_table(("service", "rule", "tax", "problem"), rows))}
               if rows else {}),
        },
    )


@dg.asset_check(asset=tax_rates, name="mapped_services_have_rates", blocking=True, partitions_def=accounts,
                description="Every service the product map uses has tax rates in force.")
def mapped_services_have_rates(context: dg.AssetCheckExecutionContext, store: StoreResource) -> dg.AssetCheckResult:
    missing = services_without_rates(store.store(), context.partition_key)
    return dg.AssetCheckResult(
        passed=not missing,
        severity=dg.AssetCheckSeverity.ERROR,
        description=_summary([str(item) for item in missing], "every mapped service has tax rates in force"),
        metadata={
            "services_without_rates": dg.MetadataValue.json({item.service_code: list(item.products) for item in missing}),
        },
    )



def _map_file_result(problems: Sequence[MapProblem]) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=MAP_FILE_CHECK,
        passed=not problems,
        severity=dg.AssetCheckSeverity.WARN,
        description=_summary([str(problem) for problem in problems], "every line of the service map was loaded"),
        metadata={"lines_left_out": len(problems)},
    )


def _summary(items: Sequence[str], all_good: str) -> str:
    if not items:
        return all_good
    shown = "; ".join(items[:MAX_TABLE_ROWS])
    return shown + (f"; and {len(items) - MAX_TABLE_ROWS} more" if len(items) > MAX_TABLE_ROWS else "")


def _bullets(items) -> str:
    return "\n".join(f"- {item}" for item in list(items)[:MAX_TABLE_ROWS])


def _changes_table(changes, company) -> str:
    rows = []
    if company is not None:
        rows += [("company", company.kind, change.field, change.before, change.after)
                 for change in company.fields] if company.kind == "changed" else [("company", company.kind, "", "", "")]
    for change in changes:
        if change.kind == "changed":
            rows += [(change.key, "changed", item.field, item.before, item.after) for item in change.fields]
        else:
            rows.append((change.key, change.kind, "", "", ""))
    if not rows:
        return "nothing changed"
    return markdown_table(("service", "version", "field", "before", "after"), rows)


CATALOG_ASSETS = [service_catalog, tax_rates]
CATALOG_CHECKS = [closed_deal_products_invoiceable, tax_rates_follow_rules, mapped_services_have_rates]
