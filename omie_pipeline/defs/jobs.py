"""Jobs: each a selection of the asset graph, run per account partition."""

from __future__ import annotations

import dagster as dg

emission_job = dg.define_asset_job(
    "emission_job",
    selection=dg.AssetSelection.assets("closed_deals", "client_index", "client_links", "nfse_invoices"),
    description="Closed deals in, clients reconciled, NFS-e issued exactly once.",
)

invoice_status_refresh_job = dg.define_asset_job(
    "invoice_status_refresh_job",
    selection=dg.AssetSelection.assets("nfse_status"),
    description="Refresh every non-final invoice of one account from Omie's listings.",
)

catalog_job = dg.define_asset_job(
    "catalog_job",
    selection=dg.AssetSelection.assets("service_catalog", "tax_rates"),
    description="Omie's service catalog, the product map, the regime and tax rates.",
)

SYNC_JOBS = [emission_job, invoice_status_refresh_job, catalog_job]
