"""Jobs: selections of the asset graph run per account partition, and the on-call jobs for one invoice."""

from __future__ import annotations

import dagster as dg
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from omie_pipeline.defs.assets.report import ASSET_NAME as REPORT_ASSET
from omie_pipeline.defs.assets.report import report_partitions
from omie_pipeline.defs.checks.freshness import FRESHNESS_CHECKS
from omie_pipeline.defs.ops import cancel_nfse, retry_nfse, wait_for_nfse
from omie_pipeline.defs.partitions import RUN_SLOT_TAG, accounts, run_slot


def _slot_config(
    kind: str, partitions_def: dg.PartitionsDefinition, account_of=lambda key: key
) -> dg.PartitionedConfig:
    """The run-slot tag on every run of the job, however it is launched (schedule, sensor, UI, backfill,
    `omie-pipeline sync`). `partitions_def` is the selected assets' own: Dagster takes the job's partitions
    from them, and this config must speak of the same keys."""
    return dg.PartitionedConfig(
        partitions_def=partitions_def,
        run_config_for_partition_key_fn=lambda key: {},
        tags_for_partition_key_fn=lambda key: {RUN_SLOT_TAG: run_slot(kind, account_of(key))},
    )


# Freshness is judged by its own job: inside the run that refreshes an asset it would only ever pass.
_FRESHNESS = dg.AssetSelection.checks(*FRESHNESS_CHECKS)


def _report_account(key: str) -> str:
    return report_partitions.get_partition_key_from_str(key).keys_by_dimension["account"]


emission_job = dg.define_asset_job(
    "emission_job",
    selection=dg.AssetSelection.assets("closed_deals", "client_index", "client_links", "nfse_invoices"),
    description="Closed deals in, clients reconciled, NFS-e issued exactly once.",
    config=_slot_config("emission", accounts),
)

invoice_status_refresh_job = dg.define_asset_job(
    "invoice_status_refresh_job",
    selection=dg.AssetSelection.assets("nfse_status") - _FRESHNESS,
    description="Refresh every non-final invoice of one account from Omie's listings.",
    config=_slot_config("status", accounts),
)

catalog_job = dg.define_asset_job(
    "catalog_job",
    selection=dg.AssetSelection.assets("service_catalog", "tax_rates") - _FRESHNESS,
    description="Omie's service catalog, the product map, the regime and tax rates.",
    config=_slot_config("catalog", accounts),
)


def report_range_tags(key_range: dg.PartitionKeyRange) -> dict[str, str]:
    """The tags of a run writing a range of one account's report days: the range, and the account's run slot, which
    the partitioned config gives only to a run of one partition."""
    return {
        ASSET_PARTITION_RANGE_START_TAG: key_range.start,
        ASSET_PARTITION_RANGE_END_TAG: key_range.end,
        RUN_SLOT_TAG: run_slot("report", _report_account(key_range.start)),
    }


report_job = dg.define_asset_job(
    "report_job",
    selection=dg.AssetSelection.assets(REPORT_ASSET),
    description="The reconciliation reports of one account for one closing day or a range of them.",
    config=_slot_config("report", report_partitions, _report_account),
)


freshness_checks_job = dg.define_asset_job(
    "freshness_checks_job",
    selection=dg.AssetSelection.checks(*FRESHNESS_CHECKS),
    description="Only the freshness checks of one account: statuses, service catalog, tax rates.",
    config=_slot_config("freshness", accounts),
)


@dg.job(description="Wait until one deal's NFS-e is issued or in error (at most `timeout` seconds).")
def invoice_wait_job() -> None:
    wait_for_nfse()


@dg.job(description="Bill one deal's refused NFS-e again on its OS, corrected from the deal as it is now.")
def invoice_retry_job() -> None:
    retry_nfse()


@dg.job(description="Cancel one deal's issued NFS-e in Omie, with the reason recorded.")
def invoice_cancel_job() -> None:
    cancel_nfse()


JOBS = [
    emission_job,
    invoice_status_refresh_job,
    catalog_job,
    report_job,
    freshness_checks_job,
    invoice_wait_job,
    invoice_retry_job,
    invoice_cancel_job,
]
