"""The taxes Omie computed for a note, and where they part from the pipeline's own figures.

Omie computes the ISS base and value (and, from the rates and retention flags it is sent, every
other tax); the pipeline computes the same from the same rates (`domain.taxes`). Both are kept, and
finance is shown any tax whose two figures differ by more than one cent, since that is what the note
says and what the payer will withhold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

# The taxes both sides compute, by the names the invoice row uses.
COMPARED_TAXES = ("iss", "pis", "cofins", "csll", "ir", "inss")
TOLERANCE = Decimal("0.01")


@dataclass(frozen=True)
class OmieTaxFigures:
    """What Omie says one note's taxes are.

    `source`: the call they were read from (ConsultarOS after the OS is created, ListarNFSEs once
    the note is listed). `amounts`: tax name -> value (None when Omie did not say). `reform`: the
    IBS/CBS fields Omie returned (rates, reductions, CST, classification) as text, kept as they came.
    """

    source: str
    iss_base: Decimal | None
    amounts: Mapping[str, Decimal | None]
    net_amount: Decimal | None
    reform: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TaxDifference:
    tax: str
    ours: Decimal
    omie: Decimal

    @property
    def difference(self) -> Decimal:
        """Omie's figure less ours."""
        return self.omie - self.ours


def tax_differences(ours: Mapping[str, Decimal | None], omie: Mapping[str, Decimal | None]) -> list[TaxDifference]:
    """Every compared tax both sides state, whose figures differ by more than R$ 0,01, in tax order."""
    found = []
    for tax in COMPARED_TAXES:
        mine, theirs = ours.get(tax), omie.get(tax)
        if mine is not None and theirs is not None and abs(theirs - mine) > TOLERANCE:
            found.append(TaxDifference(tax, mine, theirs))
    return found
