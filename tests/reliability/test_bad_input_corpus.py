"""The bad-input corpus through the real pipeline (CSV -> pull -> links -> emission against the
simulator -> status -> reports), on SQLite and PostgreSQL: every closed row ends in an invoice or
in an issue naming the deal and the field, the rest of the batch goes on, and the report files
open and carry no live formula or control character."""

from __future__ import annotations

import csv
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import sqlalchemy as sa

from omie_pipeline.domain.invoice_status import InvoiceStatus
from omie_pipeline.store.tables import deal_issues, deals
from support.simulated_omie import client_for

from .corpus import FORMULA_NAME, build_corpus, write_corpus
from .pipeline import run_pass

ACCOUNT = "acme"
CONTROL = {chr(code) for code in range(32) if chr(code) not in "\t\n\r"}


def open_issues(store) -> dict[str, set[tuple[str, str]]]:
    with store.connect() as connection:
        rows = connection.execute(
            sa.select(deal_issues.c.deal_id, deal_issues.c.field, deal_issues.c.reason).where(
                deal_issues.c.account == ACCOUNT, deal_issues.c.resolved_at.is_(None)
            )
        )
        found: dict[str, set[tuple[str, str]]] = {}
        for row in rows:
            found.setdefault(row.deal_id, set()).add((row.field, row.reason))
    return found


def test_every_corpus_row_is_accounted_for_and_the_batch_goes_on(store, sim, tmp_path: Path) -> None:
    corpus = build_corpus(ACCOUNT)
    assert len(corpus) >= 60
    path = write_corpus(tmp_path / "deals.csv", corpus)
    client = client_for(sim)

    outcome = run_pass(client, sim, store, ACCOUNT, path, tmp_path / "reports")
    client.close()

    by_deal = {result.deal_id: result for result in outcome.summary.outcomes}
    issues = open_issues(store)
    with store.connect() as connection:
        stored = dict(
            connection.execute(sa.select(deals.c.deal_id, deals.c.legal_name).where(deals.c.account == ACCOUNT)).all()
        )
    problems = []
    for row in corpus:
        deal_id = row.deal_id
        if not deal_id:
            found = [key for key, found in issues.items() if key.startswith("no-valid-id-") and row.expect in found]
            if not found:
                problems.append(f"{row.kind}: no issue for the row without an id")
            continue
        result = by_deal.get(deal_id)
        if row.expect == "skipped":
            if result is not None:
                problems.append(f"{deal_id} ({row.kind}): expected no closed deal, got {result}")
            continue
        if result is None:
            problems.append(f"{deal_id} ({row.kind}): not accounted for (lost)")
            continue
        if row.expect == "invoice":
            if result.outcome != InvoiceStatus.ISSUED:
                problems.append(f"{deal_id} ({row.kind}): expected an issued NFS-e, got {result}")
        elif row.expect == "processed":
            if result.outcome not in {"issued", "error", "issue"} or (result.outcome != "issued" and not result.reason):
                problems.append(f"{deal_id} ({row.kind}): expected a final outcome with a reason, got {result}")
        else:
            if row.expect not in issues.get(deal_id, set()):
                problems.append(
                    f"{deal_id} ({row.kind}): expected issue {row.expect}, got {issues.get(deal_id)} / {result}"
                )
    assert not problems, "\n".join(problems)

    # Control characters never reach the store or Omie; the store keeps the formula as text.
    assert not any(CONTROL & set(name or "") for name in stored.values())
    with sim.state.lock:
        omie_texts = [str(record) for record in sim.state.clients.values()]
        omie_texts += [
            str((order.informacoes_adicionais, [item.fields for item in order.items]))
            for order in sim.state.orders.values()
        ]
        amounts = {
            order.c_cod_int_os: [item.fields.get("nValUnit") for item in order.items]
            for order in sim.state.orders.values()
        }
    assert not any(CONTROL & set(text) for text in omie_texts)
    with sim.state.lock:
        note_texts = [order.informacoes_adicionais.get("cDadosAdicNF", "") for order in sim.state.orders.values()]
    assert max(map(len, note_texts)) <= 2000 and any("[...]" in text for text in note_texts)  # the long one, clipped
    assert len(amounts) == sum(1 for result in by_deal.values() if result.outcome == "issued")
    newer = next(invoice for invoice in outcome.summary.outcomes if invoice.deal_id == "R-NEWER")
    assert newer.outcome == "issued"
    sent = {value for values in amounts.values() for value in values}
    assert Decimal("1234.56") in sent and Decimal("999.00") not in sent  # the newer version was invoiced

    # The reports open, and neither the CSV nor the XLSX hands a spreadsheet a live formula.
    files = outcome.reports
    assert files.html.read_text(encoding="utf-8").count("<html") == 1
    with files.csv.open(encoding="utf-8-sig", newline="") as handle:
        cells = [cell for line in csv.reader(handle, delimiter=sniff(files.csv)) for cell in line]
    assert FORMULA_NAME not in cells and any(FORMULA_NAME in cell for cell in cells)
    assert not any(cell[:1] in "=+-@" and cell[1:2].isalpha() for cell in cells)
    workbook = openpyxl.load_workbook(files.xlsx)
    values = [cell.value for sheet in workbook.worksheets for line in sheet.iter_rows() for cell in line]
    assert not any(isinstance(value, str) and value.startswith("=") for value in values)
    assert any(isinstance(value, str) and FORMULA_NAME in value for value in values)
    with zipfile.ZipFile(files.xlsx) as archive:
        xml = "".join(archive.read(name).decode("utf-8") for name in archive.namelist() if name.endswith(".xml"))
    assert "<f>" not in xml and "HYPERLINK(" in xml


def sniff(path: Path) -> str:
    header = path.read_text(encoding="utf-8-sig").splitlines()[0]
    return ";" if header.count(";") > header.count(",") else ","
