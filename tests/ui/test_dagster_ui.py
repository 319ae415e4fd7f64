"""The Dagster UI, served from the project's workspace, shows the pipeline in a real browser."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts"
LOCATION = "omie_pipeline.definitions:defs"
ASSETS = [
    "closed_deals",
    "client_index",
    "client_links",
    "service_catalog",
    "tax_rates",
    "nfse_invoices",
    "nfse_status",
    "reconciliation_report",
]

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _clean_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OMIE_", "SALESOS_", "DAGSTER_"))}
    return {**env, **extra}


@pytest.fixture(scope="module")
def dagster_ui(tmp_path_factory) -> str:
    """The webserver on the instance a new user has after `omie-pipeline demo`: runs, materialisations
    and the report's partitions as they are after one pass."""
    home = tmp_path_factory.mktemp("dagster_home")
    demo = subprocess.run(
        [str(Path(sys.executable).with_name("omie-pipeline")), "demo", "--home", str(home)],
        cwd=REPO,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert demo.returncode == 0, demo.stderr[-3000:]
    port = _free_port()
    env = _clean_env(DAGSTER_HOME=str(home))
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("dagster-webserver")),
            "-w",
            "workspace.yaml",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{base}/server_info", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(1)
        else:
            pytest.fail("the Dagster webserver did not answer within 120 s")
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def _open(browser, url: str, wait_for_text: str):
    page = browser.new_page(viewport={"width": 1800, "height": 1100})
    page.goto(url)
    page.get_by_text(wait_for_text, exact=False).first.wait_for(timeout=60_000)
    _settled(page)
    return page


def _quiet(page) -> None:
    """Wait until the UI's requests have gone quiet (it polls, so give up after a while)."""
    with contextlib.suppress(PlaywrightTimeoutError):
        page.wait_for_load_state("networkidle", timeout=10_000)


def _settled(page) -> None:
    """The page as a person sees it once it has loaded: its data fetched and the webserver's
    first-visit newsletter prompt, which opens a moment after the page, dismissed."""
    _quiet(page)
    skip = page.get_by_role("button", name="Skip")
    try:
        skip.first.wait_for(timeout=3_000)
        skip.first.click()
    except PlaywrightTimeoutError:
        pass  # the prompt was not shown (already dismissed in this browser)
    _quiet(page)
    assert not page.get_by_text("Join the Dagster community").count(), "a prompt covers the page"


def test_asset_graph_shows_the_pipeline(dagster_ui: str, browser) -> None:
    catalog = _open(browser, f"{dagster_ui}/assets", "closed_deals")
    text = catalog.inner_text("body")
    for name in ASSETS:
        assert name in text, f"{name} missing from the asset catalog"
    lineage = _open(
        browser,
        f"{dagster_ui}/assets/reconciliation_report?view=lineage&lineageScope=upstream&lineageDepth=10",
        "service_catalog",
    )
    text = lineage.inner_text("body")
    for name in ASSETS + ["clients", "catalog", "invoicing", "reporting"]:
        assert name in text, f"{name} missing from the asset graph"
    ARTIFACTS.mkdir(exist_ok=True)
    lineage.screenshot(path=str(ARTIFACTS / "dagster_asset_graph.png"))
    assert (ARTIFACTS / "dagster_asset_graph.png").stat().st_size > 10_000


def test_automation_page_lists_schedules_and_sensors(dagster_ui: str, browser) -> None:
    page = _open(browser, f"{dagster_ui}/automation", "stuck_invoices")
    text = page.inner_text("body")
    for name in (
        "stuck_invoices",
        "failed_invoices",
        "sync_run_failures",
        "omie_accounts",
        "emission_schedule",
        "status_refresh_schedule",
        "catalog_schedule",
        "report_schedule",
    ):
        assert name in text, f"{name} missing from the automation page"
    page.screenshot(path=str(ARTIFACTS / "dagster_automation.png"), full_page=True)


def test_the_report_lists_only_reported_days_and_none_missing(dagster_ui: str, browser) -> None:
    """Each day the report lists has a report: no calendar of never-materialised days turning the
    reporting group orange, and the plots start at the first reported day."""
    ARTIFACTS.mkdir(exist_ok=True)
    group = _open(browser, f"{dagster_ui}/locations/{LOCATION}/asset-groups/reporting", "reconciliation_report")
    group.get_by_text("filled", exact=False).first.wait_for(timeout=60_000)  # the node's partitions load last
    text = group.inner_text("body")
    assert "100% filled" in text, "the report's partitions are not all materialised"
    reported = re.search(r"(\d+) partitions", text)
    assert reported and int(reported.group(1)) >= 10, "the demo's closing days are not the report's partitions"
    group.screenshot(path=str(ARTIFACTS / "dagster_reporting_group.png"))

    partitions = _open(browser, f"{dagster_ui}/assets/reconciliation_report?view=partitions", "Missing (")
    text = partitions.inner_text("body")
    assert "Missing (0)" in text and f"Materialized ({reported.group(1)})" in text
    assert "2026-01-01" not in text, "the day dimension is a calendar again"
    partitions.screenshot(path=str(ARTIFACTS / "dagster_report_partitions.png"), full_page=True)

    overview = _open(browser, f"{dagster_ui}/assets/reconciliation_report", "Latest materialization")
    overview.get_by_text("Plots", exact=True).first.click()
    overview.get_by_text("deals_closed", exact=True).first.wait_for(timeout=60_000)
    _quiet(overview)
    overview.screenshot(path=str(ARTIFACTS / "dagster_report_plots.png"))
