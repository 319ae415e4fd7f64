"""The pipeline's plain functions in their order, as the Dagster graph runs them, for one account.

CSV source -> pull -> catalog and tax rates -> service map -> client index -> links -> emission ->
status refreshes until every invoice is final -> report files. Used where a scenario needs the real
pipeline without the cost of a Dagster instance; the subprocess tests run `omie-pipeline sync` itself.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from omie_pipeline.domain.timeutil import now_utc
from omie_pipeline.omie import OmieClient
from omie_pipeline.reports import build_report, write_report
from omie_pipeline.reports.files import ReportFiles
from omie_pipeline.runner.summary import PipelineSummary, summarise
from omie_pipeline.simulator import Simulator
from omie_pipeline.sources.csv_source import CsvDealSource
from omie_pipeline.store import Store
from omie_pipeline.sync.catalog import sync_catalog
from omie_pipeline.sync.client_index import refresh_client_index
from omie_pipeline.sync.clients import link_clients
from omie_pipeline.sync.deals import pull_deals
from omie_pipeline.sync.invoice_status import RefreshSettings, refresh_statuses
from omie_pipeline.sync.invoices import IssueSettings, issue_invoices
from omie_pipeline.sync.service_map import load_service_map
from omie_pipeline.sync.tax_rates import sync_tax_rates
from support.simulated_omie import regime_of

REPO = Path(__file__).resolve().parents[2]
SERVICE_MAP = REPO / "config" / "service_map.yaml"


@dataclass
class PassOutcome:
    summary: PipelineSummary
    reports: ReportFiles


def prepare(client: OmieClient, sim: Simulator, store: Store, account: str) -> None:
    """Catalog, tax rates and the product map, as the catalog job leaves them."""
    sync_catalog(client, store, account)
    sync_tax_rates(client, store, account, confirmed_regime=regime_of(sim))
    load_service_map(store, account, SERVICE_MAP)


def emit(
    client: OmieClient, sim: Simulator, store: Store, account: str, deals_csv: Path, *, refresh_index: bool = True
) -> None:
    """Deals -> clients -> invoices, as the emission job runs them (`refresh_index` False: the
    client mirror as the last listing left it)."""
    pull_deals(CsvDealSource(deals_csv), store, account)
    if refresh_index:
        refresh_client_index(client, store, account)
    link_clients(client, store, account)
    settings = IssueSettings(redundant_interval=timedelta(seconds=sim.config.redundant_seconds), workers=2)
    issue_invoices(client, store, account, settings=settings)


def settle(client: OmieClient, store: Store, account: str, timeout: float = 15.0) -> bool:
    """Refresh statuses until no invoice is pending; False when the time ran out first."""
    settings = RefreshSettings(redundant_interval=timedelta(0), status_grace=timedelta(0))
    deadline = time.monotonic() + timeout
    while summarise(store, account).pending_invoices:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
        refresh_statuses(client, store, account, settings=settings)
    return True


def report(store: Store, account: str, folder: Path) -> ReportFiles:
    """Every day's report files for the account."""
    built = build_report(store, account, None, now_utc(), closed_statuses=("won",), stuck_after_minutes=30)
    return write_report(built, folder)


def run_pass(
    client: OmieClient, sim: Simulator, store: Store, account: str, deals_csv: Path, reports_folder: Path
) -> PassOutcome:
    """The whole pipeline once; statuses refreshed until final."""
    prepare(client, sim, store, account)
    emit(client, sim, store, account, deals_csv)
    assert settle(client, store, account), "invoices still pending after the prefeitura's delay"
    return PassOutcome(summarise(store, account), report(store, account, reports_folder))
