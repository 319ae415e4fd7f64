"""The finance reconciliation report: built from the state store, written as HTML, CSV and XLSX.

`build_report(store, account, day, now)` reads; `write_report(report, folder)` writes. For several days of one
account at once, `build_reports` and `write_reports` build each deal and draw the open items once. Dagster's
`reconciliation_report` asset and `omie-pipeline report` only call these.
"""

from omie_pipeline.reports.build import build_report, build_reports
from omie_pipeline.reports.files import ReportFiles, write_report, write_reports
from omie_pipeline.reports.model import DealRow, ExceptionRow, Report, Summary

__all__ = [
    "DealRow",
    "ExceptionRow",
    "Report",
    "ReportFiles",
    "Summary",
    "build_report",
    "build_reports",
    "write_report",
    "write_reports",
]
