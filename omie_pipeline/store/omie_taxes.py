"""The taxes Omie computed for each deal's invoice, kept beside the invoice's own figures.

One row per deal; the latest read wins (the listed note's `Valores` replace what ConsultarOS said
when the OS was created, as the note is what the payer receives).
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa

from omie_pipeline.domain.omie_taxes import COMPARED_TAXES, OmieTaxFigures
from omie_pipeline.store.tables import omie_tax_figures
from omie_pipeline.store.upsert import upsert


def record_omie_taxes(
    connection: sa.Connection, account: str, deal_id: str, figures: OmieTaxFigures, at: datetime
) -> None:
    """Keep what Omie computed for the deal's invoice (replacing an earlier read).

    A read without IBS/CBS figures (a listed note's `Valores` has none) keeps those of an earlier
    ConsultarOS read instead of erasing them.
    """
    row = {
        "account": account,
        "deal_id": deal_id,
        "source": figures.source,
        "iss_base": figures.iss_base,
        "net_amount": figures.net_amount,
        "read_at": at,
    }
    if figures.reform:
        row["reform"] = json.dumps(dict(figures.reform), sort_keys=True)
    for tax in COMPARED_TAXES:
        row[f"{tax}_amount"] = figures.amounts.get(tax)
    upsert(connection, omie_tax_figures, [row], ["account", "deal_id"])


def figures_from_row(row: sa.RowMapping) -> OmieTaxFigures:
    """A stored row back into figures (columns named as in `omie_tax_figures`)."""
    amounts: dict[str, Decimal | None] = {tax: row[f"{tax}_amount"] for tax in COMPARED_TAXES}
    return OmieTaxFigures(row["source"], row["iss_base"], amounts, row["net_amount"], json.loads(row["reform"] or "{}"))


def omie_taxes_of(connection: sa.Connection, account: str, deal_id: str) -> OmieTaxFigures | None:
    """What Omie last said the deal's invoice taxes are; None when it was never read."""
    row = (
        connection.execute(
            sa.select(omie_tax_figures).where(
                omie_tax_figures.c.account == account, omie_tax_figures.c.deal_id == deal_id
            )
        )
        .mappings()
        .first()
    )
    return figures_from_row(row) if row is not None else None
