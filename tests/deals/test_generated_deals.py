"""The deal generator behind `omie-pipeline demo --deals N`: any N, amounts always with cents."""

from __future__ import annotations

import re

from omie_pipeline.domain.deal import validate_deal_row
from omie_pipeline.sample_data.generate import generate_deals


def test_a_thousand_generated_deals_have_amounts_with_cents_and_mostly_validate() -> None:
    rows = generate_deals(1000)

    assert len(rows) == 1000 and len({row["deal_id"] for row in rows}) == 1000
    plain = [row["amount"] for row in rows if "," not in row["amount"]]
    assert all(re.fullmatch(r"\d+\.\d{2}", amount) for amount in plain), plain[:5]
    refused = [row for row in rows if isinstance(validate_deal_row(row, "demo"), list)]
    assert 0 < len(refused) < 100  # about one in twenty-five carries a mistake an export would have
