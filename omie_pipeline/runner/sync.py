"""`omie-pipeline sync`: one pass of the whole graph against the configured account and sources."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TextIO

from omie_pipeline.runner.demo import _pacing_wait
from omie_pipeline.runner.graph import PassResult, run_pipeline_pass
from omie_pipeline.runner.progress import Progress
from omie_pipeline.runner.summary import PipelineSummary, summarise
from omie_pipeline.settings import load_settings


def run_sync(*, settle_timeout_seconds: float = 300.0, stream: TextIO | None = None,
             quiet: bool = False) -> tuple[PassResult, PipelineSummary]:
    """Run the graph once on the instance in DAGSTER_HOME (created when missing)."""
    import dagster as dg

    from omie_pipeline.defs.resources import OmieResource
    from omie_pipeline.definitions import defs
    from omie_pipeline.store import Store

    settings = load_settings()
    settings.require_omie_credentials()
    home = Path(os.environ.get("DAGSTER_HOME") or settings.dagster_home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    account = settings.omie_pipeline_account
    store = Store(settings.omie_pipeline_db_url)
    client = OmieResource().client()
    progress = Progress(lambda: summarise(store, account), lambda: _pacing_wait(client.metrics()),
                        stream=stream, quiet=quiet)
    with dg.DagsterInstance.get() as instance, progress:
        outcome = run_pipeline_pass(
            defs, instance, store, account, progress,
            settle_timeout_seconds=settle_timeout_seconds,
            settle_interval_seconds=max(settings.omie_redundant_seconds, 1.0) + 1.0,
            alert_sensors=("stuck_invoices", "failed_invoices"),
        )
    summary = summarise(store, account)
    store.dispose()
    return outcome, summary
