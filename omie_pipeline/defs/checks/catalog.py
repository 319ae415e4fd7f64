"""Checks of the catalog: products of closed deals, and the tax rates of mapped services.

The product check sits on `tax_rates`, the last asset of the catalog, not on `service_catalog`: a
blocking failure there would stop the rates from being refreshed at all, and an unmapped product
must never leave every other service with stale rates. It does not block: a CRM typo in one
deal's product must not fail the catalog run nor hold back the other deals; those deals wait as
reconciliation issues (stage "invoice") and the failed ERROR check is what the data team sees.
"""

import dagster as dg

from omie_pipeline.defs.assets.catalog import tax_rates
from omie_pipeline.defs.metadata import markdown_table, summary_text
from omie_pipeline.defs.partitions import accounts
from omie_pipeline.defs.resources import StoreResource
from omie_pipeline.i18n import _, ngettext
from omie_pipeline.store.catalog import product_problems
from omie_pipeline.sync.tax_rates import rate_rule_violations, services_without_rates


@dg.asset_check(
    asset=tax_rates,
    name="closed_deal_products_invoiceable",
    blocking=False,
    partitions_def=accounts,
    description="Every product of a closed deal awaiting invoice maps to an active, known Omie service.",
)
def closed_deal_products_invoiceable(
    context: dg.AssetCheckExecutionContext, store: StoreResource
) -> dg.AssetCheckResult:
    with store.store().connect() as connection:
        problems = product_problems(connection, context.partition_key)
    rows = [(p.product_code, p.reason.value, p.service_code or "", str(p.deals)) for p in problems]
    return dg.AssetCheckResult(
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        description=summary_text(
            [
                p.message + " (" + ngettext("{count} deal", "{count} deals", p.deals).format(count=p.deals) + ")"
                for p in problems
            ],
            _("every product of a closed deal maps to an active Omie service"),
        ),
        metadata={
            "products_failing": len(problems),
            "deals_waiting": sum(p.deals for p in problems),
            "products": dg.MetadataValue.json({p.product_code: p.reason.value for p in problems}),
            **(
                {"details": dg.MetadataValue.md(markdown_table(("product", "problem", "service", "deals"), rows))}
                if rows
                else {}
            ),
        },
    )


@dg.asset_check(
    asset=tax_rates,
    name="tax_rates_follow_rules",
    blocking=False,
    partitions_def=accounts,
    description="The rates of every mapped service agree with the regime's rules "
    "(ISS 2-5 %, PIS/COFINS by regime, withholdings).",
)
def tax_rates_follow_rules(context: dg.AssetCheckExecutionContext, store: StoreResource) -> dg.AssetCheckResult:
    violations = rate_rule_violations(store.store(), context.partition_key)
    rows = [(v.service_code, v.rule, v.tax, v.message) for v in violations]
    return dg.AssetCheckResult(
        passed=not violations,
        severity=dg.AssetCheckSeverity.ERROR,
        description=summary_text(
            [f"{v.service_code}: {v.rule}: {v.message}" for v in violations],
            _("the rates of every mapped service follow the regime's rules"),
        ),
        metadata={
            "violations": len(violations),
            "services": dg.MetadataValue.json(sorted({v.service_code for v in violations})),
            **(
                {"details": dg.MetadataValue.md(markdown_table(("service", "rule", "tax", "problem"), rows))}
                if rows
                else {}
            ),
        },
    )


@dg.asset_check(
    asset=tax_rates,
    name="mapped_services_have_rates",
    blocking=False,
    partitions_def=accounts,
    description="Every service the product map uses has tax rates in force.",
)
def mapped_services_have_rates(context: dg.AssetCheckExecutionContext, store: StoreResource) -> dg.AssetCheckResult:
    missing = services_without_rates(store.store(), context.partition_key)
    return dg.AssetCheckResult(
        passed=not missing,
        severity=dg.AssetCheckSeverity.ERROR,
        description=summary_text([str(item) for item in missing], _("every mapped service has tax rates in force")),
        metadata={
            "services_without_rates": dg.MetadataValue.json(
                {item.service_code: list(item.products) for item in missing}
            ),
        },
    )


CATALOG_CHECKS = [closed_deal_products_invoiceable, tax_rates_follow_rules, mapped_services_have_rates]
