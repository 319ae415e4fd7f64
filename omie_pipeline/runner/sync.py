"""`omie-pipeline sync`: one pass of the whole graph against the configured account and sources."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TextIO

from omie_pipeline.i18n import _
from omie_pipeline.runner.graph import PassResult, run_configured_pass
from omie_pipeline.runner.instance import create_storage, prepare_instance
from omie_pipeline.runner.summary import PipelineSummary
from omie_pipeline.settings import Settings, load_settings
from omie_pipeline.sources.config import source_from_settings
from omie_pipeline.store import Store


def check_configured_sources(settings: Settings) -> None:
    """Open the state store and read the first deal of the source before Dagster starts.

    A wrong URL, table or file then stops the sync at once with one line naming the variable
    (StoreUnavailableError, SourceError), instead of failing inside a run and going on to the
    status refresh and the reports.
    """
    Store(settings.db_url).dispose()
    rows = source_from_settings(settings).read(None)
    try:
        next(rows, None)
    finally:
        rows.close()


def run_sync(
    *, settle_timeout_seconds: float = 300.0, stream: TextIO | None = None, quiet: bool = False
) -> tuple[PassResult, PipelineSummary]:
    """Run the graph once on the instance in DAGSTER_HOME (created when missing)."""
    settings = load_settings()
    settings.require_omie_credentials()
    check_configured_sources(settings)
    home = Path(os.environ.get("DAGSTER_HOME") or settings.dagster_home).resolve()
    prepared = prepare_instance(home)
    if prepared and not quiet:
        print(_("Dagster instance: {what}").format(what=prepared), file=sys.stderr)
    create_storage(home)
    os.environ["DAGSTER_HOME"] = str(home)
    return run_configured_pass(
        settings.omie_pipeline_account,
        settings.omie_pipeline_db_url,
        settle_timeout_seconds=settle_timeout_seconds,
        settle_interval_seconds=max(settings.omie_redundant_seconds, 1.0) + 1.0,
        report_days=7,
        stream=stream,
        quiet=quiet,
    )
