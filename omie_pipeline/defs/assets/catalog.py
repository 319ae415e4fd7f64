"""Catalog assets: Omie's services with the product map, and the versioned tax rates.

`service_catalog` evaluates its own check of the map file (`service_map_file_valid`): the file is
read in its step. The other catalog checks are in `defs/checks/catalog.py`.
"""

from collections.abc import Sequence
from datetime import timedelta

import dagster as dg

from omie_pipeline.defs.metadata import MAX_TABLE_ROWS, markdown_table, summary_text
from omie_pipeline.defs.partitions import accounts
from omie_pipeline.defs.resources import OmieResource, PipelineResource, StoreResource, account_client
from omie_pipeline.defs.retries import READ_RETRY, retry_only_transient
from omie_pipeline.sync.catalog import sync_catalog
from omie_pipeline.sync.service_map import MapProblem, load_service_map
from omie_pipeline.sync.tax_rates import sync_tax_rates

GROUP = "catalog"
DAILY_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=30), warn_window=timedelta(hours=25))
# Only Omie being briefly unavailable is worth a retry of the step; a blocked key, wrong keys, an
# unknown regime or a broken map file fail the same way again.
MAP_FILE_CHECK = "service_map_file_valid"


class CatalogConfig(dg.Config):
    full_reload: bool = False  # list every service instead of those changed since the last sync


@dg.asset(
    partitions_def=accounts,
    pool="omie_api",
    group_name=GROUP,
    kinds={"omie", "yaml"},
    retry_policy=READ_RETRY,
    freshness_policy=DAILY_FRESHNESS,
    check_specs=[
        dg.AssetCheckSpec(
            MAP_FILE_CHECK,
            asset="service_catalog",
            description="Every line of the product -> service map file can be read.",
        )
    ],
)
def service_catalog(
    context: dg.AssetExecutionContext,
    config: CatalogConfig,
    omie: OmieResource,
    store: StoreResource,
    pipeline: PipelineResource,
) -> dg.MaterializeResult:
    """Omie's service catalog of one account, and the product -> service map loaded from its file."""
    account = context.partition_key
    with retry_only_transient():
        synced = sync_catalog(
            account_client(omie, store, pipeline, account),
            store.store(),
            account,
            full=config.full_reload,
        )
        loaded = load_service_map(store.store(), account, pipeline.service_map_path(account))
    for problem in synced.problems:
        context.log.warning("not stored: %s", problem)
    for problem in loaded.problems:
        context.log.warning("service map %s %s", loaded.path, problem)
    context.log.info(
        "%s services listed (%s), %s in the catalog; %s products mapped",
        synced.listed,
        "full" if synced.full else "changed only",
        synced.total,
        len(loaded.entries),
    )
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
    partitions_def=accounts,
    pool="omie_api",
    group_name=GROUP,
    kinds={"omie"},
    deps=[service_catalog],
    retry_policy=READ_RETRY,
    freshness_policy=DAILY_FRESHNESS,
)
def tax_rates(
    context: dg.AssetExecutionContext, omie: OmieResource, store: StoreResource, pipeline: PipelineResource
) -> dg.MaterializeResult:
    """The company's tax regime and each service's rates and retentions, as dated versions."""
    account = context.partition_key
    with retry_only_transient():
        synced = sync_tax_rates(
            account_client(omie, store, pipeline, account),
            store.store(),
            account,
            confirmed_regime=pipeline.regime(),
        )
    for problem in synced.problems:
        context.log.warning("no rates: %s", problem)
    context.log.info(
        "regime %s; %s services; %s versions opened, %s closed",
        synced.regime.value,
        synced.services,
        synced.versions_created,
        synced.versions_closed,
    )
    changed = [change for change in synced.changes if change.kind != "first"]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": synced.services,
            "regime": synced.regime.value,
            "regime_changed": bool(
                synced.company
                and synced.company.kind == "changed"
                and any(f.field == "regime" for f in synced.company.fields)
            ),
            "versions_opened": synced.versions_created,
            "versions_closed": synced.versions_closed,
            "services_changed": len(changed),
            "services_without_readable_rates": len(synced.problems),
            "what_changed": dg.MetadataValue.md(_changes_table(synced.changes, synced.company)),
            **(
                {"unreadable_rates": dg.MetadataValue.md(_bullets(map(str, synced.problems)))}
                if synced.problems
                else {}
            ),
        }
    )


def _map_file_result(problems: Sequence[MapProblem]) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=MAP_FILE_CHECK,
        passed=not problems,
        severity=dg.AssetCheckSeverity.WARN,
        description=summary_text([str(problem) for problem in problems], "every line of the service map was loaded"),
        metadata={"lines_left_out": len(problems)},
    )


def _bullets(items) -> str:
    return "\n".join(f"- {item}" for item in list(items)[:MAX_TABLE_ROWS])


def _changes_table(changes, company) -> str:
    rows = []
    if company is not None:
        rows += (
            [("company", company.kind, change.field, change.before, change.after) for change in company.fields]
            if company.kind == "changed"
            else [("company", company.kind, "", "", "")]
        )
    for change in changes:
        if change.kind == "changed":
            rows += [(change.key, "changed", item.field, item.before, item.after) for item in change.fields]
        else:
            rows.append((change.key, change.kind, "", "", ""))
    if not rows:
        return "nothing changed"
    return markdown_table(("service", "version", "field", "before", "after"), rows)


CATALOG_ASSETS = [service_catalog, tax_rates]
