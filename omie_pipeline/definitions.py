"""The one Dagster `Definitions` of the project, built from explicit lists (no module scanning)."""

from __future__ import annotations

import dagster as dg

from omie_pipeline.defs.accounts_sensor import omie_accounts
from omie_pipeline.defs.alert_resources import AlertsResource
from omie_pipeline.defs.assets.catalog import CATALOG_ASSETS, CATALOG_CHECKS
from omie_pipeline.defs.assets.clients import CLIENT_ASSETS, CLIENT_CHECKS
from omie_pipeline.defs.assets.deals import DEAL_ASSETS, DEAL_CHECKS
from omie_pipeline.defs.assets.invoices import INVOICE_ASSETS, INVOICE_CHECKS
from omie_pipeline.defs.assets.report import REPORT_ASSETS, REPORT_JOBS, REPORT_SCHEDULES
from omie_pipeline.defs.invoice_jobs import INVOICE_JOBS
from omie_pipeline.defs.jobs import SYNC_JOBS
from omie_pipeline.defs.resources import DealSourceResource, OmieResource, StoreResource
from omie_pipeline.defs.schedules import SCHEDULES
from omie_pipeline.defs.sensors import ALERT_SENSORS


def build_definitions() -> dg.Definitions:
    return dg.Definitions(
        assets=[*CATALOG_ASSETS, *DEAL_ASSETS, *CLIENT_ASSETS, *INVOICE_ASSETS, *REPORT_ASSETS],
        asset_checks=[*CATALOG_CHECKS, *DEAL_CHECKS, *CLIENT_CHECKS, *INVOICE_CHECKS],
        jobs=[*SYNC_JOBS, *INVOICE_JOBS, *REPORT_JOBS],
        schedules=[*SCHEDULES, *REPORT_SCHEDULES],
        sensors=[omie_accounts, *ALERT_SENSORS],
        resources={"store": StoreResource(), "omie": OmieResource(), "deal_source": DealSourceResource(),
                   "alerts": AlertsResource()},
    )


defs = build_definitions()
