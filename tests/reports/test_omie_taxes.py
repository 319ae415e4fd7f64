"""Omie's computed taxes in the report: beside ours in every file, a difference over R$ 0,01 an exception."""

from __future__ import annotations

from decimal import Decimal

import openpyxl
import pandas as pd
import pytest

from omie_pipeline.reports import write_report
from omie_pipeline.reports.html import tax_summary

from .conftest import build

pytestmark = pytest.mark.usefixtures("portuguese")  # the file's pt-BR headers


def test_a_difference_over_one_cent_is_an_exception_with_both_amounts(seeded) -> None:
    report = build(seeded)
    flagged = [row for row in report.exceptions if row.reason == "omie_tax_mismatch"]
    assert [row.deal_id for row in flagged] == ["D-1013"], "D-1002 is one cent off: within tolerance"
    (row,) = flagged
    assert row.stage == "omie" and row.field == "impostos"
    assert "ISS: nosso R$ 144,00, Omie R$ 216,00 (diferença de R$ 72,00)" in row.message
    deal = next(deal for deal in report.deals if deal.deal_id == "D-1013")
    assert deal.omie_tax("iss") == Decimal("216.00") and deal.tax("iss").amount == Decimal("144.00")
    assert "omie_tax_mismatch" in deal.reasons
    assert next(deal for deal in report.deals if deal.deal_id == "D-1011").omie_taxes == {}, "no invoice, no figures"
    (iss,) = [line for line in tax_summary(deal) if line["label"] == "ISS"]
    assert iss["omie"] == Decimal("216.00")


def test_csv_and_xlsx_show_omies_figure_next_to_ours(sqlite_seeded, tmp_path) -> None:
    files = write_report(build(sqlite_seeded), tmp_path / "reports")
    frame = pd.read_csv(files.csv, sep=";", decimal=",", encoding="utf-8-sig", dtype={"Negócio": str})
    headers = list(frame.columns)
    assert headers.index("ISS calculado pelo Omie") == headers.index("ISS valor retido") + 1
    by_deal = frame.set_index("Negócio")
    assert by_deal.loc["D-1013", "ISS calculado pelo Omie"] == 216.0 and by_deal.loc["D-1013", "ISS"] == 144.0
    assert by_deal.loc["D-1001", "IRRF calculado pelo Omie"] == by_deal.loc["D-1001", "IRRF valor retido"]
    assert pd.isna(by_deal.loc["D-1004", "ISS calculado pelo Omie"]), "not read from Omie yet: empty, not zero"
    sheet = openpyxl.load_workbook(files.xlsx)["Exceções"]
    reasons = [cell.value for cell in next(sheet.iter_cols(min_row=2, min_col=9, max_col=9))]
    assert "omie_tax_mismatch" in reasons
    assert "Omie R$ 216,00" in files.html.read_text(encoding="utf-8")
