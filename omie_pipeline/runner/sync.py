"""`omie-pipeline sync`: one pass of the whole graph against the configured account and sources."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TextIO

from omie_pipeline.runner.graph import PassResult, run_configured_pass
from omie_pipeline.runner.summary import PipelineSummary
from omie_pipeline.settings import load_settings


def run_sync(*, settle_timeout_seconds: float = 300.0, stream: TextIO | None = None,
             quiet: bool = False) -> tuple[PassResult, PipelineSummary]:
    """Run the graph once on the instance in DAGSTER_HOME (created when missing)."""
    settings = load_settings()
    settings.require_omie_credentials()
    home = Path(os.environ.get("DAGSTER_HOME") or settings.dagster_home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    return run_configured_pass(
        settings.omie_pipeline_account, settings.omie_pipeline_db_url,
        settle_timeout_seconds=settle_timeout_seconds,
        settle_interval_seconds=max(settings.omie_redundant_seconds, 1.0) + 1.0,
        report_days=7, stream=stream, quiet=quiet)
