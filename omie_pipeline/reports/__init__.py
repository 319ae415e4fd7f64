"""The finance reconciliation report: built from the state store, written as HTML, CSV and XLSX.

`build_report(store, account, day, now)` reads; `write_report(report, folder)` writes. Dagster's
`reconciliation_report` asset and `omie-pipeline report` only call these two.
"""

from omie_pipeline.reports.build import build_report
from omie_pipeline.reports.files import ReportFiles, write_report
from omie_pipeline.reports.model import DealRow, ExceptionRow, Report, Summary

__all__ = ["DealRow", "ExceptionRow", "Report", "ReportFiles", "Summary", "build_report", "write_report"]
