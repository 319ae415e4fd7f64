"""Rows no database or invoice should hold: one of them never stops the batch (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa

from omie_pipeline.sources.base import SourceRow
from omie_pipeline.store import Store
from omie_pipeline.store.tables import deal_issues, deals
from omie_pipeline.sync import deals as deals_sync
from omie_pipeline.sync.deals import pull_deals

from .conftest import ACCOUNT, deal_row

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


class ListSource:
    """Rows as a SQL source hands them over, without a CSV in between (a NUL byte survives)."""

    source_id = "list:test"
    description = "a list of rows"

    def __init__(self, rows: list[dict]) -> None:
        self.rows = rows

    def read(self, since: datetime | None) -> Iterator[SourceRow]:
        for position, values in enumerate(self.rows, start=1):
            yield SourceRow(position=position, values=values)


def _stored(store: Store) -> dict[str, sa.Row]:
    with store.connect() as connection:
        return {row.deal_id: row for row in connection.execute(sa.select(deals).where(deals.c.account == ACCOUNT))}


def _open_issues(store: Store) -> set[tuple[str, str, str]]:
    with store.connect() as connection:
        return {
            (row.deal_id, row.field, row.reason)
            for row in connection.execute(
                sa.select(deal_issues).where(deal_issues.c.account == ACCOUNT, deal_issues.c.resolved_at.is_(None))
            )
        }


def test_an_absurd_amount_and_control_characters_never_stop_the_batch(store: Store) -> None:
    rows = [deal_row(f"D-{n}") for n in range(60)]
    rows[10] = deal_row("D-HUGE", amount="100000000000000000000000.00")
    rows[20] = deal_row("D-NUL", legal_name="Acme\x00 Serviços\x07 Ltda", description="Linha 1\nLinha\x1b 2")
    rows[30] = deal_row("D-BIG", amount="10000000.01")

    pulled = pull_deals(ListSource(rows), store, ACCOUNT, now=NOW)

    stored = _stored(store)
    assert len(stored) == 60 and pulled.valid == 58 and pulled.invalid == 2
    assert stored["D-NUL"].is_valid and stored["D-NUL"].legal_name == "Acme Serviços Ltda"
    assert stored["D-NUL"].description == "Linha 1\nLinha 2"
    assert not stored["D-HUGE"].is_valid and stored["D-HUGE"].amount is None
    assert not stored["D-BIG"].is_valid and stored["D-BIG"].amount is None  # a field at fault is not kept
    assert _open_issues(store) == {("D-HUGE", "amount", "above_maximum"), ("D-BIG", "amount", "above_maximum")}


def test_an_amount_a_sql_source_hands_over_as_a_date_is_that_deals_issue(store: Store) -> None:
    rows = [deal_row("D-1"), {**deal_row("D-DATE"), "amount": datetime(2026, 11, 20, tzinfo=UTC)}, deal_row("D-2")]

    pulled = pull_deals(ListSource(rows), store, ACCOUNT, now=NOW)

    assert pulled.valid == 2 and pulled.invalid == 1
    assert _open_issues(store) == {("D-DATE", "amount", "bad_type")}


def test_the_largest_amount_is_configurable(store: Store) -> None:
    rows = [deal_row("D-1", amount="2000.00"), deal_row("D-2", amount="12000000.00")]

    pull_deals(ListSource(rows), store, ACCOUNT, now=NOW, max_amount=Decimal("1000.00"))
    assert _open_issues(store) == {("D-1", "amount", "above_maximum"), ("D-2", "amount", "above_maximum")}

    pull_deals(ListSource(rows), store, ACCOUNT, now=NOW, max_amount=Decimal("50000000.00"), full_refresh=True)
    assert _open_issues(store) == set() and all(row.is_valid for row in _stored(store).values())


def test_a_row_the_database_refuses_becomes_that_deals_issue_and_the_rest_is_stored(store: Store, monkeypatch) -> None:
    real_save = deals_sync.save_deals

    def refusing_save(connection, rows):
        if any(row["deal_id"] == "D-REFUSED" for row in rows):
            raise sa.exc.DataError("INSERT", {}, Exception("value out of range for type numeric"))
        return real_save(connection, rows)

    monkeypatch.setattr(deals_sync, "save_deals", refusing_save)
    rows = [deal_row(f"D-{n}") for n in range(5)] + [deal_row("D-REFUSED")]

    pulled = pull_deals(ListSource(rows), store, ACCOUNT, now=NOW)

    assert set(_stored(store)) == {f"D-{n}" for n in range(5)}
    assert _open_issues(store) == {("D-REFUSED", "row", "not_storable")}
    assert pulled.valid == 5 and pulled.invalid == 1


def test_two_versions_of_a_deal_at_one_moment_are_an_issue_not_a_silent_choice(store: Store) -> None:
    rows = [
        deal_row("D-TWICE", amount="1000.00"),
        deal_row("D-TWICE", amount="1200.00"),
        deal_row("D-SAME"),
        deal_row("D-SAME"),
        deal_row("D-SETTLED", amount="10.00"),
        deal_row("D-SETTLED", amount="20.00"),
        deal_row("D-SETTLED", amount="30.00", updated_at="2026-11-21T09:00:00-03:00"),
    ]

    pull_deals(ListSource(rows), store, ACCOUNT, now=NOW)

    stored = _stored(store)
    assert not stored["D-TWICE"].is_valid
    assert stored["D-SAME"].is_valid  # the same row twice is no conflict
    assert stored["D-SETTLED"].is_valid and stored["D-SETTLED"].amount == Decimal("30.00")  # a later version decides
    assert _open_issues(store) == {("D-TWICE", "updated_at", "conflicting_versions")}


def test_an_empty_status_is_a_missing_required_field_not_a_deal_that_is_not_closed(store: Store) -> None:
    pulled = pull_deals(
        ListSource([deal_row("D-NOSTATUS", status=""), deal_row("D-OPEN", status="open")]), store, ACCOUNT, now=NOW
    )

    assert pulled.not_closed == 1 and pulled.invalid == 1
    assert set(_stored(store)) == {"D-NOSTATUS"}
    assert _open_issues(store) == {("D-NOSTATUS", "status", "missing")}


def test_a_pull_reports_for_each_row_what_the_model_says_of_it_alone(store: Store, monkeypatch) -> None:
    """Rows read by column and rows read by the model end the same: the same deal stored, the same
    issues per field, whatever chunk they fall in."""
    from omie_pipeline.domain.deal import Deal, validate_deal_row
    from omie_pipeline.sample_data.generate import generate_deals

    monkeypatch.setattr(deals_sync, "WRITE_BATCH", 97)
    rows = generate_deals(400, seed=31, until=datetime(2026, 11, 25, 9, 0, tzinfo=UTC))
    rows += [
        deal_row("E-SPACES", legal_name="  Monte   Verde "),
        deal_row("E-STATUS", status=" WON "),
        deal_row("E-DOC", document="11.444.855/0001-29"),
        deal_row("E-AMOUNT", amount="1.500,00"),
        deal_row("E-ZERO", amount="0"),
        deal_row("E-EMAIL", email="a@b.com.br;x@"),
        deal_row("E-IBGE", city_ibge_code="3304557"),
        deal_row("E-OFFSET", updated_at="2026-11-20T10:05:00"),
        deal_row("E-ACCOUNT", account="other"),
        deal_row("E-CONTROL", street="Rua\x00 A"),
    ]
    expected = {}
    for row in rows:
        result = validate_deal_row(row, ACCOUNT)
        if isinstance(result, Deal):
            expected[row["deal_id"]] = result.as_row()
        else:
            expected[row["deal_id"]] = {(problem.field, problem.reason_code) for problem in result}

    pulled = pull_deals(ListSource(rows), store, ACCOUNT, now=NOW)

    stored = _stored(store)
    issues = _open_issues(store)
    assert set(stored) == set(expected)
    for deal_id, judged in expected.items():
        shown = {(field, reason) for issue_deal, field, reason in issues if issue_deal == deal_id}
        if isinstance(judged, dict):
            assert stored[deal_id].is_valid and not shown, deal_id
            assert stored[deal_id].document == judged["document"] and stored[deal_id].amount == judged["amount"]
            assert stored[deal_id].updated_at == judged["updated_at"] and stored[deal_id].status == judged["status"]
        else:
            assert not stored[deal_id].is_valid and shown == judged, deal_id
    assert pulled.invalid == sum(not isinstance(judged, dict) for judged in expected.values()) >= 10
