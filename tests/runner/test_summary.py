"""The sync's summary says why an invoice waits: the prefeitura, or a run that was interrupted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from omie_pipeline.runner.summary import summarise
from omie_pipeline.store.tables import deal_issues, deals, invoices

NOW = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)  # 12:00 in São Paulo


def _deal_with_invoice(store, deal_id: str, *, os_id: int | None, claimed_at: datetime | None) -> None:
    with store.begin() as connection:
        connection.execute(
            sa.insert(deals).values(account="acme", deal_id=deal_id, status="won", is_valid=True, pulled_at=NOW)
        )
        connection.execute(
            sa.insert(invoices).values(
                account="acme",
                deal_id=deal_id,
                idempotency_key=f"key-{deal_id}",
                status="submitted",
                gross_amount=Decimal("100.00"),
                net_amount=Decimal("100.00"),
                created_at=NOW,
                status_changed_at=NOW,
                omie_os_id=os_id,
                claimed_by="run-1" if claimed_at else None,
                claimed_at=claimed_at,
            )
        )


def test_an_intent_claimed_by_a_killed_run_is_held_until_its_lease_ends_not_waiting_on_the_prefeitura(store) -> None:
    _deal_with_invoice(store, "D-KILLED", os_id=None, claimed_at=NOW - timedelta(minutes=5))
    _deal_with_invoice(store, "D-BILLED", os_id=987, claimed_at=None)
    _deal_with_invoice(store, "D-EXPIRED", os_id=None, claimed_at=NOW - timedelta(minutes=30))

    summary = summarise(store, "acme", claim_lease=timedelta(minutes=15), now=NOW)

    assert summary.held_until == {"D-KILLED": NOW + timedelta(minutes=10)}
    assert summary.pending_invoices == 3 and summary.waiting_on_prefeitura == 2
    reasons = {outcome.deal_id: outcome.reason for outcome in summary.outcomes}
    assert reasons["D-KILLED"] == "held by an interrupted run until 12:10 (São Paulo); sent after that"
    assert reasons["D-BILLED"] is None and reasons["D-EXPIRED"] is None


def test_a_deal_kept_by_its_issues_names_each_field_once(store) -> None:
    with store.begin() as connection:
        connection.execute(
            sa.insert(deals).values(account="acme", deal_id="D-BAD", status="won", is_valid=False, pulled_at=NOW)
        )
        for field, message in (("document", "document: the CPF's check digits do not match"), ("street", "is empty")):
            connection.execute(
                sa.insert(deal_issues).values(
                    account="acme",
                    deal_id="D-BAD",
                    stage="validation",
                    field=field,
                    reason="check_digits" if field == "document" else "missing",
                    message=message,
                    first_seen_at=NOW,
                    last_seen_at=NOW,
                )
            )

    summary = summarise(store, "acme", claim_lease=timedelta(minutes=15), now=NOW)

    reasons = {outcome.deal_id: outcome.reason for outcome in summary.outcomes}
    assert sorted(reasons["D-BAD"].split("; ")) == ["document: the CPF's check digits do not match", "street: is empty"]
