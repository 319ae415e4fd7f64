"""Jobs: each a selection of the asset graph, run per account partition."""

from __future__ import annotations

import dagster as dg

from omie_pipeline.defs.partitions import accounts

EMITTING_ACCOUNT_TAG = "omie_pipeline/emitting_account"

emission_job = dg.define_asset_job(
    "emission_job",
    selection=dg.AssetSelection.assets("closed_deals", "client_index", "client_links", "nfse_invoices"),
    partitions_def=accounts,
    description="Closed deals in, clients reconciled, NFS-e issued exactly once.",
)

invoice_status_refresh_job = dg.define_asset_job(
    "invoice_status_refresh_job",
    selection=dg.AssetSelection.assets("nfse_status"),
    partitions_def=accounts,
    description="Refresh every non-final invoice of one account from Omie's listings.",
)

catalog_job = dg.define_asset_job(
    "catalog_job",
    selection=dg.AssetSelection.assets("service_catalog", "tax_rates"),
    partitions_def=accounts,
    description="Omie's service catalog, the product map, the regime and tax rates.",
)

SYNC_JOBS = [emission_job, invoice_status_refresh_job, catalog_job]
