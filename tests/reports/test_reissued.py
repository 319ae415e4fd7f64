"""A deal whose cancelled NFS-e was replaced by `invoices reissue`: finance sees the replaced note (number,
amount, cancellation) beside the new one in the HTML, CSV and XLSX, and no total counts it as receivable."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import openpyxl
import pandas as pd
import pytest
import sqlalchemy as sa

from omie_pipeline.domain.keys import invoice_idempotency_key
from omie_pipeline.reports import write_report
from omie_pipeline.reports.labels import Outcome
from omie_pipeline.store.tables import invoices, reissued_invoices

from .conftest import ACCOUNT, NOW, build

REPLACED_GROSS = Decimal("4321.00")
REPLACED_NUMBER = "880"


def _reissue_an_issued_deal(seeded) -> str:
    """The day's first issued deal becomes the second note of its deal: its first, cancelled, is set aside."""
    deal = next(deal for deal in build(seeded).deals if deal.outcome is Outcome.ISSUED)
    cancelled_at = NOW - timedelta(days=1)
    with seeded.store.begin() as connection:
        connection.execute(
            sa.update(invoices)
            .where(invoices.c.account == ACCOUNT, invoices.c.deal_id == deal.deal_id)
            .values(issue_number=2, idempotency_key=invoice_idempotency_key(ACCOUNT, deal.deal_id, 2))
        )
        connection.execute(
            sa.insert(reissued_invoices).values(
                account=ACCOUNT,
                deal_id=deal.deal_id,
                issue_number=1,
                idempotency_key=invoice_idempotency_key(ACCOUNT, deal.deal_id, 1),
                omie_os_id=555,
                os_number="OS-OLD",
                nfse_number=REPLACED_NUMBER,
                verification_code="OLD9",
                gross_amount=REPLACED_GROSS,
                net_amount=Decimal("4000.00"),
                issued_at=cancelled_at - timedelta(days=1),
                cancelled_at=cancelled_at,
                cancel_reason="Valor errado na nota, será reemitida",
                cancel_requested_by="ana",
                reissued_at=cancelled_at,
                reissued_by="ana",
            )
        )
    return deal.deal_id


def test_the_replaced_note_is_shown_beside_the_new_one_and_counted_nowhere(seeded) -> None:
    before = build(seeded).summary
    deal_id = _reissue_an_issued_deal(seeded)

    report = build(seeded)

    deal = next(deal for deal in report.deals if deal.deal_id == deal_id)
    (replaced,) = deal.replaced
    assert (replaced.nfse_number, replaced.gross_amount) == (REPLACED_NUMBER, REPLACED_GROSS)
    assert replaced.cancelled_at is not None and deal.outcome is Outcome.ISSUED
    summary = report.summary
    assert (summary.issued_count, summary.issued_amount, summary.net_issued) == (
        before.issued_count,
        before.issued_amount,
        before.net_issued,
    )
    assert summary.status(Outcome.CANCELLED) == before.status(Outcome.CANCELLED)
    assert deal.receivable == deal.net_receivable != replaced.net_amount


@pytest.mark.usefixtures("portuguese")
def test_the_files_show_the_replaced_note(sqlite_seeded, tmp_path) -> None:
    deal_id = _reissue_an_issued_deal(sqlite_seeded)
    report = build(sqlite_seeded)

    files = write_report(report, tmp_path / "reports")

    frame = pd.read_csv(
        files.csv,
        sep=";",
        decimal=",",
        encoding="utf-8-sig",
        dtype={"Negócio": str, "NFS-e substituída (cancelada)": str},
    )
    row = frame[frame["Negócio"] == deal_id].iloc[0]
    assert str(row["NFS-e substituída (cancelada)"]) == REPLACED_NUMBER
    assert row["Valor bruto da nota substituída"] == pytest.approx(float(REPLACED_GROSS))
    assert frame["Valor bruto da nota substituída"].sum() == pytest.approx(float(REPLACED_GROSS))
    sheet = openpyxl.load_workbook(files.xlsx, read_only=True)["Negócios"]
    rows = list(sheet.iter_rows(values_only=True))
    header = list(rows[0])
    cells = next(dict(zip(header, row, strict=True)) for row in rows[1:] if row[0] == deal_id)
    assert cells["NFS-e substituída (cancelada)"] == REPLACED_NUMBER
    assert cells["Valor bruto da nota substituída"] == float(REPLACED_GROSS)
    assert cells["Substituída cancelada em"] is not None
    page = files.html.read_text(encoding="utf-8")
    assert f"substitui a NFS-e nº {REPLACED_NUMBER} (R$ 4.321,00, cancelada em" in page
