"""The files finance opens: CSV and XLSX read back with pandas to the report's figures; the HTML self-contained."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from omie_pipeline.reports import write_report
from omie_pipeline.reports.labels import Outcome
from omie_pipeline.reports.xlsx import DATE_FORMAT, MONEY_FORMAT

from .conftest import ACCOUNT, CPF_JOAO, CPF_MARIA, CPF_TYPO, DAY, build

# The files as finance reads them, in the product's default language (test_language.py reads them in English).
pytestmark = pytest.mark.usefixtures("portuguese")

CENT = 0.005


@pytest.fixture
def written(sqlite_seeded, tmp_path):
    report = build(sqlite_seeded)
    return report, write_report(report, tmp_path / "reports")


def _read_csv(path: Path) -> pd.DataFrame:
    """As a pt-BR spreadsheet reads it: `;` between fields, decimal comma, day first."""
    return pd.read_csv(path, sep=";", decimal=",", encoding="utf-8-sig", dtype={"Negócio": str, "Nº da NFS-e": str})


def test_files_are_named_by_account_and_day_in_the_account_folder(written, tmp_path) -> None:
    _, files = written
    folder = tmp_path / "reports" / ACCOUNT
    assert files.html == folder / f"reconciliacao_{ACCOUNT}_{DAY.isoformat()}.html"
    assert {path.suffix for path in (files.html, files.csv, files.xlsx)} == {".html", ".csv", ".xlsx"}
    assert files.open_items_html == folder / "open_items.html" and files.open_items_csv == folder / "open_items.csv"
    assert sorted(path.name for path in folder.iterdir()) == sorted(path.name for path in files.all())


def test_csv_opens_in_pt_br_excel_and_reads_back_to_the_same_figures(written) -> None:
    report, files = written
    raw = files.csv.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    header = raw[3:].split(b"\r\n", 1)[0].decode("utf-8")
    assert header.startswith("Negócio;Data de fechamento;Cliente;CPF/CNPJ;")
    frame = _read_csv(files.csv)
    assert len(frame) == len(report.deals) and frame["Negócio"].is_unique
    for column in (
        "Valor no CRM",
        "Valor bruto da nota",
        "ISS",
        "IRRF valor retido",
        "Total retido",
        "Líquido a receber",
    ):
        assert pd.api.types.is_float_dtype(frame[column]), column
    summary = report.summary
    for outcome in Outcome:
        rows = frame[frame["Código da situação"] == outcome.value]
        line = summary.status(outcome)
        assert len(rows) == line.count, outcome
        assert abs(rows["Valor no CRM"].sum() - float(line.crm_amount)) < CENT, outcome
        assert abs(rows["Valor bruto da nota"].sum() - float(line.gross)) < CENT, outcome
        assert abs(rows["Líquido a receber"].sum() - float(line.net_receivable or 0)) < CENT, outcome
    issued = frame[frame["Código da situação"] == "issued"]
    for tax in summary.taxes:
        column = {"ir": "IRRF"}.get(tax.tax, tax.tax.upper())
        assert abs(issued[column].sum() - float(tax.amount_issued)) < CENT, tax.tax
        if f"{column} valor retido" in frame:
            assert abs(issued[f"{column} valor retido"].sum() - float(tax.withheld_issued)) < CENT, tax.tax
            assert (issued[f"{column} retido?"] == "Sim").sum() == tax.notes_withheld
    days = pd.to_datetime(frame["Data de fechamento"], format="%d/%m/%Y")
    assert (days.dt.date == DAY).all()


def test_xlsx_has_summary_deals_and_exceptions_with_brl_and_date_formats(written) -> None:
    report, files = written
    sheets = pd.read_excel(files.xlsx, sheet_name=None, dtype={"Negócio": str})
    assert list(sheets) == ["Resumo", "Negócios", "Exceções", "Em aberto"]
    deals_sheet, exceptions_sheet = sheets["Negócios"], sheets["Exceções"]
    assert len(deals_sheet) == len(report.deals) and len(exceptions_sheet) == len(report.exceptions)
    assert len(sheets["Em aberto"]) == len(report.open_items)
    for outcome in Outcome:
        rows = deals_sheet[deals_sheet["Código da situação"] == outcome.value]
        assert abs(rows["Valor bruto da nota"].sum() - float(report.summary.status(outcome).gross)) < CENT
    assert abs(deals_sheet["Valor no CRM"].sum() - float(report.summary.closed_amount)) < CENT
    assert set(exceptions_sheet["Código do motivo"]) == {exception.reason for exception in report.exceptions}

    workbook = openpyxl.load_workbook(files.xlsx)
    deals_ws = workbook["Negócios"]
    assert deals_ws.freeze_panes == "B2" and workbook["Exceções"].freeze_panes == "B2"
    headers = [cell.value for cell in deals_ws[1]]
    money_column = headers.index("Valor bruto da nota") + 1
    date_column = headers.index("Data de fechamento") + 1
    first = deals_ws.cell(row=2, column=money_column)
    assert first.number_format == MONEY_FORMAT and isinstance(first.value, (int, float))
    day_cell = deals_ws.cell(row=2, column=date_column)
    assert day_cell.number_format == DATE_FORMAT and isinstance(day_cell.value, (date, datetime))
    summary_ws = workbook["Resumo"]
    values = [row for row in summary_ws.iter_rows(values_only=True)]
    issued_line = next(row for row in values if row[0] == "Emitido (NFS-e válidas)")
    assert Decimal(str(issued_line[2])) == report.summary.issued_amount
    money_cells = [cell for row in summary_ws.iter_rows() for cell in row if cell.number_format == MONEY_FORMAT]
    assert len(money_cells) > 30


def test_html_is_one_self_contained_pt_br_page_with_three_charts(written) -> None:
    report, files = written
    page = files.html.read_text(encoding="utf-8")
    assert '<html lang="pt-BR">' in page
    assert sorted(re.findall(r'data-chart="(\w+)"', page)) == ["aging", "amounts", "funnel"]
    assert not re.search(r'(?:src|href)\s*=\s*"(?:https?:)?//', page)
    assert "<link" not in page and "<script" not in page and "@import" not in page and "url(http" not in page
    assert "R$ 12.500,00" in page  # D-1001's gross, as people write it
    assert "20/11/2026" in page and not re.search(r"<td>\d{4}-\d{2}-\d{2}", page)
    for label in ("Conciliação CRM × notas", "Impostos", "Exceções", "Itens em aberto", "Envelhecimento"):
        assert label in page
    from omie_pipeline.domain.money import format_brl

    assert format_brl(report.summary.issued_amount) in page and format_brl(report.summary.open_amount) in page


def test_no_cpf_reaches_any_file(written) -> None:
    _, files = written
    texts = [path.read_text(encoding="utf-8-sig") for path in files.all() if path.suffix != ".xlsx"]
    workbook = openpyxl.load_workbook(files.xlsx)
    texts.append(" ".join(str(cell) for sheet in workbook for row in sheet.iter_rows(values_only=True) for cell in row))
    for text in texts:
        for cpf in (CPF_MARIA, CPF_JOAO, CPF_TYPO):
            assert cpf not in text and f"{cpf[:3]}.{cpf[3:6]}.{cpf[6:9]}-{cpf[9:]}" not in text
    assert "***.982.247-**" in texts[0]


def test_open_items_view_lists_every_open_deal(written) -> None:
    report, files = written
    frame = _read_csv(files.open_items_csv)
    assert sorted(frame["Negócio"]) == sorted(deal.deal_id for deal in report.open_items)
    assert (
        abs(
            frame["Valor bruto da nota"].fillna(0).sum()
            + frame.loc[frame["Valor bruto da nota"].isna(), "Valor no CRM"].fillna(0).sum()
            - float(report.summary.open_amount)
        )
        < CENT
    )
    page = files.open_items_html.read_text(encoding="utf-8")
    assert 'data-chart="aging"' in page and all(deal.deal_id in page for deal in report.open_items)


def test_rewriting_a_day_replaces_its_files_and_leaves_no_temporary_files(sqlite_seeded, tmp_path) -> None:
    first = write_report(build(sqlite_seeded), tmp_path)
    second = write_report(build(sqlite_seeded), tmp_path)
    assert first == second
    assert not [path for path in (tmp_path / ACCOUNT).iterdir() if path.name.startswith(".")]


def test_csv_and_xlsx_neutralise_text_that_excel_would_run_as_a_formula(sqlite_seeded, tmp_path) -> None:
    from omie_pipeline.store.tables import deals

    with sqlite_seeded.store.begin() as connection:
        connection.execute(deals.update().where(deals.c.deal_id == "D-1001").values(legal_name='=HYPERLINK("x")'))
    files = write_report(build(sqlite_seeded), tmp_path)
    frame = _read_csv(files.csv)
    assert frame.loc[frame["Negócio"] == "D-1001", "Cliente"].item() == '\'=HYPERLINK("x")'
    cells = [
        cell
        for sheet in openpyxl.load_workbook(files.xlsx)
        for row in sheet.iter_rows()
        for cell in row
        if isinstance(cell.value, str) and "HYPERLINK" in cell.value
    ]
    assert cells and all(cell.data_type == "s" and cell.value.startswith("'=") for cell in cells)


def test_control_characters_in_crm_text_never_break_the_report(sqlite_seeded, tmp_path) -> None:
    from omie_pipeline.store.tables import deals

    with sqlite_seeded.store.begin() as connection:
        connection.execute(
            deals.update()
            .where(deals.c.deal_id == "D-1001")
            .values(legal_name="Bell\x07 Escape\x1b Null\x00 Ltda", description="a\x0bb")
        )
    files = write_report(build(sqlite_seeded), tmp_path)

    frame = _read_csv(files.csv)
    assert frame.loc[frame["Negócio"] == "D-1001", "Cliente"].item() == "Bell Escape Null Ltda"
    workbook = openpyxl.load_workbook(files.xlsx)
    assert any(cell.value == "Bell Escape Null Ltda" for sheet in workbook for row in sheet.iter_rows() for cell in row)


def test_an_account_that_cannot_name_a_folder_is_refused(sqlite_seeded, tmp_path) -> None:
    from dataclasses import replace

    report = replace(build(sqlite_seeded), account="../elsewhere")
    with pytest.raises(ValueError, match="elsewhere"):
        write_report(report, tmp_path)


def test_a_day_without_deals_still_gives_a_complete_report(sqlite_seeded, tmp_path) -> None:
    quiet_day = date(2026, 11, 22)
    report = build(sqlite_seeded, quiet_day)
    files = write_report(report, tmp_path)
    assert report.deals == [] and report.summary.closed_amount == 0 and report.open_items
    page = files.html.read_text(encoding="utf-8")
    assert "Nenhum negócio fechado em 22/11/2026" in page and len(re.findall(r"<svg", page)) == 3
    assert _read_csv(files.csv).empty
    assert len(pd.read_excel(files.xlsx, sheet_name="Em aberto")) == len(report.open_items)


def test_only_issued_notes_count_as_net_receivable_in_every_file(written) -> None:
    """A rejected or cancelled note will never be paid: its net is no part of "Líquido a receber" anywhere."""
    from omie_pipeline.domain.money import format_brl

    report, files = written
    summary = report.summary
    rejected = summary.status(Outcome.ERROR)
    assert rejected.count and rejected.net  # the seeded rejected note has a net the files must leave out
    assert sum((line.net for line in summary.by_status), Decimal(0)) != summary.net_issued

    frame = _read_csv(files.csv)
    assert abs(frame["Líquido a receber"].sum() - float(summary.net_issued)) < CENT
    assert frame[frame["Código da situação"] != "issued"]["Líquido a receber"].isna().all()

    workbook = openpyxl.load_workbook(files.xlsx)
    rows = list(workbook["Resumo"].iter_rows(values_only=True))
    header = rows.index(next(row for row in rows if row[:2] == ("Situação", "Código")))
    total = next(row for row in rows[header:] if row[0] == "Total")
    assert Decimal(str(total[6])) == summary.net_issued and Decimal(str(total[5])) == summary.withheld_issued
    rejected_row = next(row for row in rows[header:] if row[1] == "error")
    assert rejected_row[5] is None and rejected_row[6] is None

    page = files.html.read_text(encoding="utf-8")
    by_status = page.split('<section id="resumo">', 1)[1].split("</section>", 1)[0]
    total_row = by_status.split('<tr class="total">', 1)[1].split("</tr>", 1)[0]
    cells = re.findall(r'<td class="num">([^<]*)</td>', total_row)
    assert cells[-1] == format_brl(summary.net_issued) and cells[-2] == format_brl(summary.withheld_issued)


def test_days_written_together_share_the_open_items_drawn_once(sqlite_seeded, tmp_path, monkeypatch) -> None:
    from omie_pipeline.reports import build_reports, html, write_reports

    from .conftest import CLOSED, NOW, STUCK_AFTER_MINUTES

    drawn = []
    aging_chart = html.aging_chart
    monkeypatch.setattr(html, "aging_chart", lambda summary: drawn.append(summary) or aging_chart(summary))
    days = [date(2026, 11, 18), DAY]
    reports = build_reports(
        sqlite_seeded.store, ACCOUNT, days, NOW, closed_statuses=CLOSED, stuck_after_minutes=STUCK_AFTER_MINUTES
    )
    written = write_reports(reports, tmp_path / "reports")
    assert len(drawn) == 1
    folder = tmp_path / "reports" / ACCOUNT
    assert [files.html.name for files in written] == [f"reconciliacao_{ACCOUNT}_{day.isoformat()}.html" for day in days]
    assert sorted(path.name for path in folder.iterdir()) == sorted(
        {path.name for files in written for path in files.all()}
    )
    # Each day's page has its own summary and the same open-items section, aging chart included; so has the
    # open-items page.
    pages = [files.html.read_text(encoding="utf-8") for files in written]
    sections = [page[page.index('<section id="em-aberto">') :] for page in pages]
    open_page = written[0].open_items_html.read_text(encoding="utf-8")
    assert 'data-chart="aging"' in sections[0] and sections[0].split("</section>")[0] in open_page
    assert sections[0].split("</section>")[0] == sections[1].split("</section>")[0]
    assert pages[0].count('data-chart="funnel"') == pages[1].count('data-chart="funnel"') == 1
    assert not [path for path in folder.iterdir() if path.name.startswith(".")]  # no section file left behind


def test_reports_built_apart_are_not_written_together(sqlite_seeded, tmp_path) -> None:
    from omie_pipeline.reports import write_reports

    with pytest.raises(ValueError, match="built together"):
        write_reports([build(sqlite_seeded), build(sqlite_seeded, date(2026, 11, 18))], tmp_path / "reports")
