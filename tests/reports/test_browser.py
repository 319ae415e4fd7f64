"""The HTML report opens in headless Chromium without errors, offline, with its three charts drawn.

Screenshots go to artifacts/ (not versioned) for people to look at.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from omie_pipeline.reports import write_report

from .conftest import build

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("portuguese")]

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts"


def _open(browser, path: Path):
    """The page, with every console error, page error and non-file request it caused."""
    page = browser.new_page(viewport={"width": 1280, "height": 2000})
    problems: list[str] = []
    page.on(
        "console",
        lambda message: (
            problems.append(f"console {message.type}: {message.text}") if message.type in ("error", "warning") else None
        ),
    )
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "request",
        lambda request: (
            problems.append(f"network: {request.url}") if not request.url.startswith(("file://", "data:")) else None
        ),
    )
    page.goto(path.as_uri(), wait_until="load")
    return page, problems


def test_report_opens_without_errors_and_draws_its_charts(browser, sqlite_seeded, tmp_path) -> None:
    report = build(sqlite_seeded)
    files = write_report(report, tmp_path)
    page, problems = _open(browser, files.html)
    charts = page.locator("svg.chart")
    assert charts.count() == 3
    for index in range(3):
        box = charts.nth(index).bounding_box()
        assert box and box["width"] > 300 and box["height"] > 100
    # Matplotlib drew the bars: each chart holds filled shapes and the text of its labels.
    funnel = page.locator('svg[data-chart="funnel"]')
    assert "Emitido (NFS-e válida)" in funnel.text_content()
    assert page.locator('svg[data-chart="aging"] path').count() > 10
    assert page.locator("#negocios tbody > tr").count() == len(report.deals)
    assert page.title().startswith("Conciliação financeira")
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "reconciliation_report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 50_000
    assert problems == []
    page.close()


def test_open_items_page_opens_without_errors(browser, sqlite_seeded, tmp_path) -> None:
    report = build(sqlite_seeded)
    files = write_report(report, tmp_path)
    page, problems = _open(browser, files.open_items_html)
    assert page.locator('svg[data-chart="aging"]').count() == 1
    assert page.locator("#em-aberto tbody tr").count() >= len(report.open_items)
    page.screenshot(path=str(ARTIFACTS / "reconciliation_open_items.png"), full_page=True)
    assert problems == []
    page.close()
