"""Write a report's files into the reports folder, one set per account and day.

Layout: `<folder>/<account>/reconciliacao_<account>_<aaaa-mm-dd>.{html,csv,xlsx}` for the day,
and `<folder>/<account>/open_items.{html,csv}`, the latest view of what is still open. Each file
is written next to its final name and then renamed over it, so a reader (or a browser refresh)
never sees half a report.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from omie_pipeline.collector import collector_paused
from omie_pipeline.i18n import _
from omie_pipeline.reports.columns import Column, deal_columns
from omie_pipeline.reports.csv_export import write_csv
from omie_pipeline.reports.html import write_html, write_open_items_section
from omie_pipeline.reports.model import Report
from omie_pipeline.reports.xlsx import write_xlsx

_SAFE_ACCOUNT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
OPEN_ITEMS_STEM = "open_items"


@dataclass(frozen=True)
class ReportFiles:
    """Where one report was written: the day's HTML, CSV and XLSX, and the account's open-items files."""

    html: Path
    csv: Path
    xlsx: Path
    open_items_html: Path
    open_items_csv: Path

    def all(self) -> list[Path]:
        """Every file written, in a fixed order, so the CLI can list them."""
        return [self.html, self.csv, self.xlsx, self.open_items_html, self.open_items_csv]


def report_stem(report: Report) -> str:
    """The file name without extension: account and closing day, so files of different days never overwrite each
    other.
    """
    day = report.day.isoformat() if report.day else "todas-as-datas"
    return f"reconciliacao_{report.account}_{day}"


def account_folder(folder: Path, account: str) -> Path:
    """The account's folder under `folder`; an account name that could leave it (`..`, `/`) is refused."""
    if not _SAFE_ACCOUNT.fullmatch(account) or account in (".", ".."):
        raise ValueError(
            _("account {account} cannot name a reports folder: use letters, digits, '_', '-' or '.'").format(
                account=repr(account)
            )
        )
    return Path(folder) / account


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        write(Path(temporary))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_report(report: Report, folder: Path) -> ReportFiles:
    """Write the day's HTML, CSV and XLSX, and refresh the open-items HTML and CSV."""
    return write_reports([report], folder)[0]


def write_reports(reports: Sequence[Report], folder: Path) -> list[ReportFiles]:
    """Write each report's day files, and the account's open-items files once.

    `reports` are one account's, built together (`build_reports`): they share one list of open items, so its
    section of the pages, aging chart included, is rendered once for every day, and the open-items files,
    which every day would overwrite with the same content, are written once."""
    if len({report.account for report in reports}) > 1 or any(
        report.open_items is not reports[0].open_items for report in reports
    ):
        raise ValueError("reports written together must be one account's, built together (build_reports)")
    with collector_paused():
        return _write_files(reports, folder)


def _write_files(reports: Sequence[Report], folder: Path) -> list[ReportFiles]:
    latest = reports[-1]
    target = account_folder(folder, latest.account)
    target.mkdir(parents=True, exist_ok=True)
    open_items_html, open_items_csv = target / f"{OPEN_ITEMS_STEM}.html", target / f"{OPEN_ITEMS_STEM}.csv"
    written = [
        ReportFiles(
            html=target / f"{report_stem(report)}.html",
            csv=target / f"{report_stem(report)}.csv",
            xlsx=target / f"{report_stem(report)}.xlsx",
            open_items_html=open_items_html,
            open_items_csv=open_items_csv,
        )
        for report in reports
    ]
    columns = deal_columns(latest.tax_names)
    open_names = {"HTML": open_items_html.name, "CSV": open_items_csv.name}
    open_title = _("Open items · {account}").format(account=latest.account)
    with _open_items_section(latest, target) as section:
        for report, files in zip(reports, written, strict=True):
            _write_day(report, files, section, columns)
        _atomic_write(
            open_items_html,
            lambda path: write_html(
                path, latest, open_section=section, open_items_only=True, title=open_title, file_names=open_names
            ),
        )
    _atomic_write(open_items_csv, lambda path: write_csv(path, latest.open_items, columns))
    return written


def _write_day(report: Report, files: ReportFiles, section: Path, columns: list[Column]) -> None:
    """The day's page (with the open-items section rendered in `section`), CSV and XLSX."""
    names = {"HTML": files.html.name, "CSV": files.csv.name, "Excel": files.xlsx.name}
    _atomic_write(files.html, lambda path: write_html(path, report, open_section=section, file_names=names))
    _atomic_write(files.csv, lambda path: write_csv(path, report.deals, columns))
    _atomic_write(files.xlsx, lambda path: write_xlsx(path, report))


@contextmanager
def _open_items_section(report: Report, folder: Path) -> Iterator[Path]:
    """The open-items section rendered once into a hidden file beside the pages that show it, removed after."""
    handle, name = tempfile.mkstemp(prefix=f".{OPEN_ITEMS_STEM}.", suffix=".section.tmp", dir=folder)
    os.close(handle)
    try:
        write_open_items_section(report, Path(name))
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)
