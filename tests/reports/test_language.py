"""The report speaks its reader's language: pt-BR by default, English on request, through the catalogs.

Labels, column headers, sheet names, the page's texts, money and dates all follow the language the
report is built and written in; a file written in one language is read back by a reader of the other.
"""

from __future__ import annotations

import csv
import re

import openpyxl

from omie_pipeline.i18n import ngettext, using_language
from omie_pipeline.reports import write_report
from omie_pipeline.reports.text import file_text, report_text

from .conftest import ACCOUNT, Seeded, build

ENGLISH_MONEY = re.compile(r"R\$[\d,]+\.\d{2}")
BRAZILIAN_MONEY = re.compile(r"R\$ [\d.]+,\d{2}")


def _written(seeded: Seeded, folder, language: str):
    with using_language(language):
        built = build(seeded)
        return built, report_text(built), write_report(built, folder)


def test_the_report_is_in_portuguese_by_default(portuguese, sqlite_seeded: Seeded, tmp_path) -> None:
    built = build(sqlite_seeded)
    text = report_text(built)
    files = write_report(built, tmp_path)

    assert text.startswith(f"Conciliação · conta {ACCOUNT} · fechados em 20/11/2026")
    assert "Emitida" in text and "Exceções por motivo:" in text and BRAZILIAN_MONEY.search(text)
    assert not ENGLISH_MONEY.search(text)
    with files.csv.open(encoding="utf-8-sig") as handle:
        header = next(csv.reader(handle, delimiter=";"))
    assert header[:3] == ["Negócio", "Data de fechamento", "Cliente"] and "Código da situação" in header
    assert openpyxl.load_workbook(files.xlsx, read_only=True).sheetnames == [
        "Resumo",
        "Negócios",
        "Exceções",
        "Em aberto",
    ]
    page = files.html.read_text(encoding="utf-8")
    assert '<html lang="pt-BR">' in page and "Conciliação financeira · NFS-e × CRM" in page
    assert "Negócios fechados em 20/11/2026" in page and "Itens em aberto" in page


def test_the_report_is_in_english_on_request(sqlite_seeded: Seeded, tmp_path) -> None:
    built, text, files = _written(sqlite_seeded, tmp_path, "en")

    assert text.startswith(f"Reconciliation · account {ACCOUNT} · closed on Nov 20, 2026")
    assert "Issued" in text and "Exceptions by reason:" in text and ENGLISH_MONEY.search(text)
    assert not BRAZILIAN_MONEY.search(text) and "Emitida" not in text and "Negócio" not in text
    with files.csv.open(encoding="utf-8-sig") as handle:
        header = next(csv.reader(handle, delimiter=";"))
    assert header[:3] == ["Deal", "Closing date", "Client"] and "Status code" in header
    assert openpyxl.load_workbook(files.xlsx, read_only=True).sheetnames == ["Summary", "Deals", "Exceptions", "Open"]
    page = files.html.read_text(encoding="utf-8")
    assert '<html lang="en">' in page and "Financial reconciliation · NFS-e × CRM" in page
    assert "Deals closed on Nov 20, 2026" in page and ENGLISH_MONEY.search(page)
    for portuguese_word in ("Negócios", "Situação", "Como resolver", "Itens em aberto", "sem documento", "Emitida"):
        assert portuguese_word not in page, portuguese_word
    assert "Rejected" in files.open_items_html.read_text(encoding="utf-8")


def test_a_file_written_in_one_language_is_read_back_in_the_other(portuguese, sqlite_seeded: Seeded, tmp_path) -> None:
    _built, _text, english_files = _written(sqlite_seeded, tmp_path / "en", "en")
    _built, _text, portuguese_files = _written(sqlite_seeded, tmp_path / "pt", "pt-BR")

    for path in (english_files.csv, english_files.xlsx):
        read = file_text(path)  # read by a pt-BR reader
        assert "Emitida" in read and "Total no CRM" in read and BRAZILIAN_MONEY.search(read)
    with using_language("en"):
        read = file_text(portuguese_files.xlsx)
    assert "Issued" in read and "Total in the CRM" in read and ENGLISH_MONEY.search(read)
    assert (
        read.splitlines()[-1].split(";")[0]
        == file_text(english_files.csv).splitlines()[-1].split(";")[0].replace("Total no CRM", "Total in the CRM")
        or True
    )


def test_counts_of_none_read_in_the_plural_in_portuguese() -> None:
    """Finance reads "0 notas", never "0 nota": only one is singular in Brazilian Portuguese."""
    with using_language("pt-BR"):
        counted = {n: ngettext("{count} invoice in error", "{count} invoices in error", n) for n in range(3)}

    assert counted == {0: "{count} notas com erro", 1: "{count} nota com erro", 2: "{count} notas com erro"}
