"""The one Dagster `Definitions` of the project, built from explicit lists (no module scanning).

This is the code location's entry point: the settings are read here, once per process, and
turned into the resources every asset, check, job and sensor receives. Nothing below it reads
the environment, so a test or the runner builds definitions from settings of its own.
"""

from __future__ import annotations

import dagster as dg

from omie_pipeline.defs.assets.catalog import CATALOG_ASSETS
from omie_pipeline.defs.assets.clients import CLIENT_ASSETS
from omie_pipeline.defs.assets.deals import DEAL_ASSETS
from omie_pipeline.defs.assets.invoices import INVOICE_ASSETS
from omie_pipeline.defs.assets.report import REPORT_ASSETS
from omie_pipeline.defs.checks.catalog import CATALOG_CHECKS
from omie_pipeline.defs.checks.clients import CLIENT_CHECKS
from omie_pipeline.defs.checks.deals import DEAL_CHECKS
from omie_pipeline.defs.checks.freshness import FRESHNESS_CHECKS
from omie_pipeline.defs.checks.invoices import INVOICE_CHECKS
from omie_pipeline.defs.executors import build_executor
from omie_pipeline.defs.jobs import JOBS
from omie_pipeline.defs.resources import build_resources
from omie_pipeline.defs.schedules import build_schedules
from omie_pipeline.defs.sensors import SENSORS
from omie_pipeline.i18n import set_language
from omie_pipeline.settings import Settings, accounts_file, load_accounts, load_settings


def build_definitions(settings: Settings) -> dg.Definitions:
    """Every asset, check, job, schedule and sensor, with resources and the executor made from `settings`
    and, when there is one, the accounts file (each partition's keys, deal source and service map)."""
    accounts = load_accounts(settings) if accounts_file(settings) is not None else []
    return dg.Definitions(
        assets=[*CATALOG_ASSETS, *DEAL_ASSETS, *CLIENT_ASSETS, *INVOICE_ASSETS, *REPORT_ASSETS],
        asset_checks=[*CATALOG_CHECKS, *DEAL_CHECKS, *CLIENT_CHECKS, *INVOICE_CHECKS, *FRESHNESS_CHECKS],
        jobs=JOBS,
        schedules=build_schedules(settings.omie_pipeline_emission_cron),
        sensors=SENSORS,
        resources=build_resources(settings, accounts),
        executor=build_executor(settings),
    )


settings = load_settings()
# What this process writes for people (an invoice's fix, a check's description) in OMIE_PIPELINE_LANGUAGE.
set_language(settings.omie_pipeline_language)
defs = build_definitions(settings)
