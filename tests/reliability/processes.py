"""`omie-pipeline sync` as a separate process against a simulator, the way an operator or a
scheduler runs it, for the tests that kill it or run two at once."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

from omie_pipeline.domain.deal import CANONICAL_COLUMNS
from omie_pipeline.sample_data.generate import generate_deals
from omie_pipeline.simulator import Simulator

REPO = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).with_name("omie-pipeline"))


def generated_deals_csv(path: Path, count: int, seed: int) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(CANONICAL_COLUMNS))
        writer.writeheader()
        writer.writerows(generate_deals(count, seed=seed))
    return path


def sync_env(
    sim: Simulator, home: Path, db_url: str, deals_csv: Path, reports: Path, account: str = "acme", **extra: str
) -> dict[str, str]:
    """The environment of a sync against `sim`, nothing inherited from ours but the basics."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OMIE_", "SALESOS_", "DAGSTER_"))}
    config = sim.config
    env.update(
        DAGSTER_HOME=str(home),
        OMIE_BASE_URL=sim.base_url,
        OMIE_APP_KEY=config.app_key,
        OMIE_APP_SECRET=config.app_secret,
        OMIE_REDUNDANT_SECONDS=str(config.redundant_seconds),
        OMIE_PIPELINE_ACCOUNT=account,
        OMIE_PIPELINE_DB_URL=db_url,
        SALESOS_DEALS_URL=str(deals_csv),
        OMIE_PIPELINE_SERVICE_MAP=str(REPO / "config" / "service_map.yaml"),
        OMIE_PIPELINE_REPORTS_DIR=str(reports),
        OMIE_PIPELINE_TAX_REGIME="lucro_presumido",
        OMIE_PIPELINE_STATUS_GRACE_MINUTES="0",
    )
    env.update(extra)
    return env


def start_sync(env: dict[str, str], log: Path, settle_timeout: float = 30) -> subprocess.Popen:
    """Start `omie-pipeline sync --json`; its stdout and stderr go to `log`."""
    handle = log.open("ab")
    try:
        return subprocess.Popen(
            [CLI, "sync", "--json", "--settle-timeout", str(settle_timeout)],
            cwd=REPO,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    finally:
        handle.close()
