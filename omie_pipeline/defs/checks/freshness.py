"""Freshness: whether each account's statuses, catalog and tax rates were refreshed recently enough.

Dagster's freshness check factories judge the latest materialisation of an asset as a whole, or
of time partitions; our partitions are accounts (dynamic), and whether stale statuses matter
depends on the store (only while the account has invoices waiting on Omie). So these are plain
checks per account partition that read the latest materialisation of that partition from the
instance. They run in `freshness_checks_job` (its own schedule), never inside the runs that
refresh the assets: a refresh that stops running is exactly what they must see.

All three are ERROR checks the `failed_checks` sensor alerts on, on the same channels as a
stuck invoice. "Now" is the alerts resource's (`evaluate_at` for drills and tests).
"""

from datetime import UTC, datetime, timedelta

import dagster as dg

from omie_pipeline.alerts.text import format_duration, format_when
from omie_pipeline.defs.assets.catalog import service_catalog, tax_rates
from omie_pipeline.defs.assets.invoices import nfse_status
from omie_pipeline.defs.partitions import accounts
from omie_pipeline.defs.resources import AlertsResource, PipelineResource, StoreResource
from omie_pipeline.i18n import N_, _, ngettext
from omie_pipeline.store.invoices import open_invoice_count

STATUSES_FRESH = "nfse_status_fresh"
CATALOG_FRESH = "service_catalog_fresh"
TAX_RATES_FRESH = "tax_rates_fresh"


def last_materialized(instance: dg.DagsterInstance, asset_key: dg.AssetKey, partition: str) -> datetime | None:
    """When the asset's partition was last materialised (aware, UTC); None if never."""
    result = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=[partition]), limit=1
    )
    return datetime.fromtimestamp(result.records[0].timestamp, UTC) if result.records else None


def freshness_result(
    what: str, last: datetime | None, now: datetime, max_age: timedelta, job: str, metadata: dict | None = None
) -> dg.AssetCheckResult:
    """Pass when `last` is at most `max_age` before `now`; the description says how old it is and,
    when failing, which job refreshes it."""
    limit = format_duration(max_age)
    facts: dict = {**(metadata or {}), "max_age_minutes": max_age.total_seconds() / 60}
    if last is None:
        passed, description = False, _("{what} never refreshed for this account: run {job}").format(what=what, job=job)
    else:
        age = now - last
        facts.update(last_refreshed=dg.MetadataValue.timestamp(last), age_minutes=round(age.total_seconds() / 60, 1))
        passed = age <= max_age
        facts_text = {"what": what, "when": format_when(last), "age": format_duration(age), "limit": limit, "job": job}
        description = (
            _("{what} last refreshed {when} ({age} ago), within {limit}")
            if passed
            else _("{what} last refreshed {when} ({age} ago), older than {limit}: is {job} running and succeeding?")
        ).format(**facts_text)
    return dg.AssetCheckResult(
        passed=passed, severity=dg.AssetCheckSeverity.ERROR, description=description, metadata=facts
    )


@dg.asset_check(
    asset=nfse_status,
    name=STATUSES_FRESH,
    blocking=False,
    partitions_def=accounts,
    description="While the account has invoices waiting on Omie (submitted, processing, cancellation "
    "pending), their statuses were refreshed within the pipeline's status max age (15 min).",
)
def nfse_status_fresh(
    context: dg.AssetCheckExecutionContext, store: StoreResource, pipeline: PipelineResource, alerts: AlertsResource
) -> dg.AssetCheckResult:
    account = context.partition_key
    with store.store().connect() as connection:
        waiting = open_invoice_count(connection, account)
    if not waiting:
        return dg.AssetCheckResult(
            passed=True,
            severity=dg.AssetCheckSeverity.ERROR,
            description=_("no invoice waiting on Omie: nothing to refresh"),
            metadata={"open_invoices": 0},
        )
    last = last_materialized(context.instance, nfse_status.key, account)
    return freshness_result(
        ngettext("the status of {count} open invoice", "the statuses of {count} open invoices", waiting).format(
            count=waiting
        ),
        last,
        alerts.now(),
        pipeline.status_max_age(),
        "invoice_status_refresh_job",
        {"open_invoices": waiting},
    )


def _catalog_check(asset: dg.AssetsDefinition, name: str, what: str):
    @dg.asset_check(
        asset=asset,
        name=name,
        blocking=False,
        partitions_def=accounts,
        description=f"{what.capitalize()} refreshed within the pipeline's catalog max age (26 h).",
    )
    def _check(
        context: dg.AssetCheckExecutionContext, pipeline: PipelineResource, alerts: AlertsResource
    ) -> dg.AssetCheckResult:
        last = last_materialized(context.instance, asset.key, context.partition_key)
        return freshness_result(_(what), last, alerts.now(), pipeline.catalog_max_age(), "catalog_job")

    return _check


service_catalog_fresh = _catalog_check(service_catalog, CATALOG_FRESH, N_("the service catalog"))
tax_rates_fresh = _catalog_check(tax_rates, TAX_RATES_FRESH, N_("the tax rates"))

FRESHNESS_CHECKS = [nfse_status_fresh, service_catalog_fresh, tax_rates_fresh]
