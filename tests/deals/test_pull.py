"""Pulling closed deals into the state store: validation, issues, watermarks, re-pulls (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from omie_pipeline.sources import CsvDealSource, open_source
from omie_pipeline.store import Store, sync_state
from omie_pipeline.store.deals import invalid_deals_without_issue, open_issues
from omie_pipeline.store.report_queries import ClosingWindow, report_deal_rows
from omie_pipeline.store.tables import deal_issues, deals
from omie_pipeline.sync.deals import pull_deals, watermark_key

from .conftest import ACCOUNT, SAMPLE_CSV, deal_row, write_csv

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


def _deal(store: Store, deal_id: str):
    with store.connect() as connection:
        return connection.execute(
            sa.select(deals).where(deals.c.account == ACCOUNT, deals.c.deal_id == deal_id)
        ).one_or_none()


def _issues(store: Store, deal_id: str | None = None, *, open_only: bool = True) -> list:
    query = sa.select(deal_issues).where(deal_issues.c.account == ACCOUNT)
    if deal_id is not None:
        query = query.where(deal_issues.c.deal_id == deal_id)
    if open_only:
        query = query.where(deal_issues.c.resolved_at.is_(None))
    with store.connect() as connection:
        return list(connection.execute(query.order_by(deal_issues.c.id)).all())


def test_sample_deals_every_validation_failure_recorded_with_its_reason(store: Store) -> None:
    pulled = pull_deals(open_source(str(SAMPLE_CSV)), store, ACCOUNT, now=NOW)
    assert pulled.read == 44
    assert pulled.not_closed == 3  # open, lost and proposal: not stored
    assert (pulled.valid, pulled.invalid) == (28, 13)
    found = {(issue.deal_id, issue.field, issue.reason) for issue in _issues(store)}
    expected = {
        ("SO-2026-1024", "document", "check_digits"),  # CNPJ
        ("SO-2026-1025", "document", "check_digits"),  # CPF
        ("SO-2026-1026", "document", "bad_length"),
        ("SO-2026-1027", "document", "repeated_digits"),
        ("SO-2026-1028", "document", "bad_characters"),  # letters where an alphanumeric CNPJ has digits
        ("SO-2026-1029", "amount", "missing"),
        ("SO-2026-1030", "amount", "thousands_separator"),
        ("SO-2026-1031", "updated_at", "bad_format"),
        ("SO-2026-1032", "updated_at", "no_offset"),
        ("SO-2026-1038", "email", "bad_email"),
        ("SO-2026-1038", "state", "bad_state"),
        ("SO-2026-1039", "phone", "bad_phone"),
        ("SO-2026-1039", "zip", "bad_zip"),
        ("SO-2026-1040", "city_ibge_code", "state_mismatch"),
    }
    assert expected <= found
    assert {reason for deal_id, _, reason in found if deal_id.startswith("no-valid-id-")} == {"missing"}
    assert len(found) == len(expected) + 1
    for issue in _issues(store):
        assert issue.stage == "validation" and issue.message and issue.fix
    with store.connect() as connection:
        assert invalid_deals_without_issue(connection, ACCOUNT) == []
        assert connection.execute(sa.select(sa.func.count()).select_from(deals)).scalar_one() == 41


def test_cpf_is_masked_in_issues_and_never_stored_raw(store: Store, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "deals.csv", [deal_row("CPF-1", document="390.533.447-06")])
    pull_deals(CsvDealSource(path), store, ACCOUNT, now=NOW)
    (issue,) = _issues(store, "CPF-1")
    assert issue.raw_value == "***.533.447-**"
    assert "39053344706" not in issue.message and "390.533.447-06" not in issue.message
    assert _deal(store, "CPF-1").document is None


def test_valid_deal_is_stored_normalised_with_money_as_decimal(store: Store, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "deals.csv",
        [
            deal_row(
                "D1",
                document=" 12.abc.345/01de-35 ",
                amount="666.67",
                status="Won",
                phone="+55 11 3456-7890",
                zip="01310200",
                state="sp",
                state_registration="ISENTO",
            ),
        ],
    )
    pull_deals(CsvDealSource(path), store, ACCOUNT, now=NOW)
    stored = _deal(store, "D1")
    assert stored.is_valid and stored.status == "won"
    assert (stored.document, stored.document_kind) == ("12ABC34501DE35", "cnpj")
    assert stored.amount == Decimal("666.67") and isinstance(stored.amount, Decimal)
    assert (stored.phone, stored.zip, stored.state, stored.state_registration) == (
        "1134567890",
        "01310200",
        "SP",
        "ISENTO",
    )
    assert stored.updated_at == datetime(2026, 11, 20, 13, 5, tzinfo=UTC)
    assert stored.pulled_at == NOW


def test_invalid_deal_keeps_what_could_be_read(store: Store, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "deals.csv", [deal_row("BAD", amount="1.234,56", email="nobody")])
    pull_deals(CsvDealSource(path), store, ACCOUNT, now=NOW)
    stored = _deal(store, "BAD")
    assert not stored.is_valid
    assert stored.amount is None and stored.email is None
    assert stored.legal_name == "Construtora Monte Verde Ltda" and stored.document == "11444855000128"
    assert {(issue.field, issue.reason) for issue in _issues(store, "BAD")} == {
        ("amount", "thousands_separator"),
        ("email", "bad_email"),
    }


def test_incremental_pull_sees_changed_late_and_repeated_deals(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "deals.csv"
    first = [
        deal_row("A", updated_at="2026-11-20T10:00:00-03:00", amount="100.00"),
        deal_row("B", updated_at="2026-11-20T11:00:00-03:00", amount="200.00"),
    ]
    write_csv(path, first)
    source = CsvDealSource(path)
    pulled = pull_deals(source, store, ACCOUNT, now=NOW)
    assert pulled.since is None and pulled.closed == 2
    watermark = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
    assert pulled.watermark == watermark
    with store.connect() as connection:
        assert sync_state.get_datetime(connection, ACCOUNT, watermark_key(source)) == watermark

    second = [
        first[0],  # unchanged and old: not read again
        deal_row("B", updated_at="2026-11-20T11:30:00-03:00", amount="250.00"),  # changed (a second time)
        deal_row("LATE", updated_at="2026-11-20T10:55:00-03:00"),  # saved late, inside the overlap
        deal_row("TOO-LATE", updated_at="2026-11-20T10:30:00-03:00"),  # saved late, older than the overlap
    ]
    write_csv(path, second)
    pulled = pull_deals(source, store, ACCOUNT, now=NOW)
    assert pulled.since == watermark - timedelta(minutes=10)
    assert pulled.read == 2 and pulled.valid == 2
    assert _deal(store, "B").amount == Decimal("250.00")
    assert _deal(store, "LATE") is not None
    assert _deal(store, "TOO-LATE") is None
    assert pulled.watermark == datetime(2026, 11, 20, 14, 30, tzinfo=UTC)

    again = pull_deals(source, store, ACCOUNT, now=NOW)  # the same rows once more: nothing changes
    assert again.read == 1 and again.valid == 1
    with store.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(deals)).scalar_one() == 3

    full = pull_deals(source, store, ACCOUNT, full_refresh=True, now=NOW)
    assert full.since is None and full.read == 4
    assert _deal(store, "TOO-LATE") is not None


def test_repeated_invalid_rows_keep_one_issue_each(store: Store, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "deals.csv", [deal_row("X", document="123"), deal_row("Y", updated_at="amanhã")])
    source = CsvDealSource(path)
    first = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    pull_deals(source, store, ACCOUNT, now=first)
    pull_deals(source, store, ACCOUNT, full_refresh=True, now=first + timedelta(hours=1))
    issues = _issues(store, open_only=False)
    assert [(issue.deal_id, issue.reason) for issue in issues] == [("X", "bad_length"), ("Y", "bad_format")]
    assert all(issue.first_seen_at == first and issue.last_seen_at == first + timedelta(hours=1) for issue in issues)


def test_fixing_a_deal_in_the_crm_resolves_its_issues_and_breaking_it_reopens_them(
    store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "deals.csv"
    source = CsvDealSource(path)
    write_csv(path, [deal_row("F", document="11.444.855/0001-29", updated_at="2026-11-20T10:00:00-03:00")])
    pull_deals(source, store, ACCOUNT, now=NOW)
    assert [issue.reason for issue in _issues(store, "F")] == ["check_digits"]

    write_csv(path, [deal_row("F", updated_at="2026-11-20T10:20:00-03:00")])
    fixed = pull_deals(source, store, ACCOUNT, now=NOW + timedelta(minutes=5))
    assert fixed.resolved_issues == 1 and _deal(store, "F").is_valid
    assert _issues(store, "F") == []
    (resolved,) = _issues(store, "F", open_only=False)
    assert resolved.resolved_at == NOW + timedelta(minutes=5)

    write_csv(path, [deal_row("F", document="11.444.855/0001-29", updated_at="2026-11-20T10:40:00-03:00")])
    pull_deals(source, store, ACCOUNT, now=NOW + timedelta(minutes=10))
    (reopened,) = _issues(store, "F")
    assert reopened.resolved_at is None and not _deal(store, "F").is_valid


def test_a_deal_that_leaves_the_closed_statuses_is_kept_with_an_issue(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "deals.csv"
    source = CsvDealSource(path)
    write_csv(
        path,
        [
            deal_row("R", updated_at="2026-11-20T10:00:00-03:00"),
            deal_row("NEVER", status="open", updated_at="2026-11-20T10:00:00-03:00"),
        ],
    )
    pull_deals(source, store, ACCOUNT, now=NOW)
    assert _deal(store, "NEVER") is None

    write_csv(path, [deal_row("R", status="open", updated_at="2026-11-20T10:30:00-03:00")])
    pulled = pull_deals(source, store, ACCOUNT, now=NOW)
    assert pulled.reopened == 1
    stored = _deal(store, "R")
    assert stored.status == "open" and not stored.is_valid
    (issue,) = _issues(store, "R")
    assert (issue.field, issue.reason) == ("status", "not_closed") and "open" in issue.message

    write_csv(path, [deal_row("R", status="WON", updated_at="2026-11-20T11:00:00-03:00")])
    pull_deals(source, store, ACCOUNT, now=NOW)
    assert _deal(store, "R").is_valid and _issues(store, "R") == []


def test_closed_statuses_are_configurable(store: Store, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "deals.csv", [deal_row("G", status="Ganho"), deal_row("W", status="won")])
    pulled = pull_deals(CsvDealSource(path), store, ACCOUNT, closed_statuses=["ganho", "fechado"], now=NOW)
    assert (pulled.valid, pulled.not_closed) == (1, 1)
    assert _deal(store, "G").status == "ganho" and _deal(store, "W") is None


def test_the_newest_version_wins_within_a_pull_and_an_older_one_never_overwrites(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "deals.csv"
    source = CsvDealSource(path)
    write_csv(
        path,
        [
            deal_row("V", updated_at="2026-11-20T10:10:00-03:00", amount="300.00"),
            deal_row("V", updated_at="2026-11-20T10:00:00-03:00", amount="100.00"),
        ],
    )
    pull_deals(source, store, ACCOUNT, now=NOW)
    assert _deal(store, "V").amount == Decimal("300.00")

    write_csv(path, [deal_row("V", updated_at="2026-11-20T10:05:00-03:00", amount="999.00")])
    stale = pull_deals(source, store, ACCOUNT, now=NOW)
    assert stale.stale == 1 and _deal(store, "V").amount == Decimal("300.00")


def test_a_row_from_another_account_is_an_issue_not_a_deal_of_this_one(store: Store, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "deals.csv", [deal_row("O", account="other-company")])
    pull_deals(CsvDealSource(path), store, ACCOUNT, now=NOW)
    assert not _deal(store, "O").is_valid
    assert [(issue.field, issue.reason) for issue in _issues(store, "O")] == [("account", "wrong_account")]


def test_deals_from_a_sql_table_pull_like_a_csv(store: Store, crm_url: str) -> None:
    engine = sa.create_engine(crm_url)
    columns = [name for name in deal_row("x")]
    table = sa.Table("deals_export", sa.MetaData(), *(sa.Column(name, sa.Text) for name in columns))
    table.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            table.insert(),
            [
                deal_row("SQL-1", updated_at="2026-11-20T12:00:00-03:00"),
                deal_row("SQL-2", updated_at="2026-11-20T10:00:00-03:00", document="111.111.111-11"),
                deal_row("SQL-3", status="lost"),
            ],
        )
    engine.dispose()
    source = open_source(crm_url, "deals_export")
    pulled = pull_deals(source, store, ACCOUNT, now=NOW)
    assert (pulled.read, pulled.valid, pulled.invalid, pulled.not_closed) == (3, 1, 1, 1)
    assert [issue.reason for issue in _issues(store, "SQL-2")] == ["repeated_digits"]
    again = pull_deals(source, store, ACCOUNT, now=NOW)
    assert again.read == 1  # only SQL-1 is within the overlap of the watermark, filtered by the database
    with store.connect() as connection:
        assert [row.deal_id for row in open_issues(connection, ACCOUNT)] == ["SQL-2"]


def test_a_date_in_the_future_is_an_issue_and_never_moves_the_watermark_past_the_pull(
    store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "deals.csv"
    source = CsvDealSource(path)
    rows = [
        deal_row("OK", updated_at="2026-11-20T10:00:00-03:00"),
        deal_row("FUTURE", updated_at="2099-01-01T00:00:00-03:00"),
        deal_row("SKEW", updated_at=(NOW + timedelta(minutes=3)).isoformat()),  # a CRM clock a little ahead
    ]
    write_csv(path, rows)
    pulled = pull_deals(source, store, ACCOUNT, now=NOW)
    assert pulled.watermark == NOW  # not 2099, and not past the pull's start either
    assert _deal(store, "SKEW").is_valid and _issues(store, "SKEW") == []
    future = _deal(store, "FUTURE")
    assert not future.is_valid and future.updated_at is None
    (issue,) = _issues(store, "FUTURE")
    assert (issue.field, issue.reason, issue.raw_value) == ("updated_at", "in_future", "2099-01-01T00:00:00-03:00")
    assert "in the future" in issue.message and "correct" in issue.fix and "CRM" in issue.fix

    # A deal closed after that pull is read by the next one (a 2099 watermark would skip it for good).
    later = NOW + timedelta(hours=1)
    rows.append(deal_row("LATER", updated_at=later.isoformat()))
    write_csv(path, rows)
    pulled = pull_deals(source, store, ACCOUNT, now=NOW + timedelta(hours=2))
    assert _deal(store, "LATER").is_valid and pulled.watermark == later
    assert [issue.reason for issue in _issues(store, "FUTURE")] == ["in_future"]  # read again, still listed

    # Corrected in the CRM: the deal is valid and its issue resolved (the bad date was never stored).
    rows[1] = deal_row("FUTURE", updated_at=(NOW + timedelta(hours=1, minutes=30)).isoformat())
    write_csv(path, rows)
    fixed = pull_deals(source, store, ACCOUNT, now=NOW + timedelta(hours=3))
    assert fixed.stale == 0 and _deal(store, "FUTURE").is_valid and _issues(store, "FUTURE") == []


def test_an_invalid_row_does_not_move_the_watermark_so_nothing_saved_late_is_skipped(
    store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "deals.csv"
    source = CsvDealSource(path)
    rows = [
        deal_row("VALID", updated_at="2026-11-20T10:00:00-03:00"),
        deal_row("BROKEN", document="123", updated_at="2026-11-20T11:00:00-03:00"),
        deal_row("NOT-WON", status="open", updated_at="2026-11-20T10:20:00-03:00"),
    ]
    write_csv(path, rows)
    pulled = pull_deals(source, store, ACCOUNT, now=NOW)
    # The valid deal and the open one were read well; the broken row's date proves nothing.
    assert pulled.watermark == datetime(2026, 11, 20, 13, 20, tzinfo=UTC)

    rows.append(deal_row("LATE", updated_at="2026-11-20T10:30:00-03:00"))  # committed late by the CRM
    write_csv(path, rows)
    again = pull_deals(source, store, ACCOUNT, now=NOW)
    assert _deal(store, "LATE") is not None and _deal(store, "LATE").is_valid
    assert again.read == 3  # LATE, BROKEN (listed again until fixed) and NOT-WON, within the overlap


def test_a_watermark_left_in_the_future_is_set_right_by_reading_everything_once(store: Store, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "deals.csv",
        [deal_row("A", updated_at="2026-11-20T10:00:00-03:00"), deal_row("B", updated_at="2026-11-21T10:00:00-03:00")],
    )
    source = CsvDealSource(path)
    with store.begin() as connection:  # what a 2099 row left behind before such dates were refused
        sync_state.set_datetime(connection, ACCOUNT, watermark_key(source), datetime(2099, 1, 1, tzinfo=UTC))
    pulled = pull_deals(source, store, ACCOUNT, now=NOW)
    assert pulled.since is None and pulled.read == 2
    assert pulled.watermark == datetime(2026, 11, 21, 13, 0, tzinfo=UTC)
    with store.connect() as connection:
        assert sync_state.get_datetime(connection, ACCOUNT, watermark_key(source)) == pulled.watermark


def test_after_a_pull_sqlite_reads_an_account_that_is_the_whole_table_in_one_pass(store: Store) -> None:
    """Statistics gathered at the end of the pull let SQLite scan the deals for a report, rather than look each
    one up through the document index; PostgreSQL gathers its own statistics."""
    if store.dialect != "sqlite":
        pytest.skip("PostgreSQL keeps its planner statistics itself (autovacuum)")
    pull_deals(CsvDealSource(SAMPLE_CSV), store, ACCOUNT, now=NOW)
    sent: list[tuple[str, tuple]] = []

    def remember(_connection, _cursor, statement, parameters, _context, _many) -> None:
        sent.append((statement, parameters))

    with store.connect() as connection:
        sa.event.listen(connection, "before_cursor_execute", remember)
        for _batch in report_deal_rows(connection, ACCOUNT, ("won",), ClosingWindow()):
            pass
        sa.event.remove(connection, "before_cursor_execute", remember)
        statistics = connection.exec_driver_sql("SELECT idx FROM sqlite_stat1 WHERE tbl = 'deals'").scalars().all()
        [(statement, parameters)] = [(text, values) for text, values in sent if "FROM deals" in text]
        plan = [row[-1] for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)]

    assert "ix_deals_account_document" in statistics
    assert "SCAN deals" in plan, plan
