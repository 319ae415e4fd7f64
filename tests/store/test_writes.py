"""Writes that must hold with concurrent writers, and values that must round-trip exactly."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from omie_pipeline.store import Store, sync_state
from omie_pipeline.store.tables import invoices, omie_clients
from omie_pipeline.store.upsert import insert_if_absent, upsert

NOW = datetime(2026, 11, 26, 9, 30, tzinfo=ZoneInfo("America/Sao_Paulo"))


def _intent(deal_id: str) -> dict:
    return {
        "account": "acme",
        "deal_id": deal_id,
        "idempotency_key": f"OS-{deal_id}",
        "status": "submitted",
        "gross_amount": Decimal("1234.56"),
        "net_amount": Decimal("1200.00"),
        "created_at": NOW,
        "status_changed_at": NOW,
    }


def test_concurrent_writers_record_one_intent_per_deal(store: Store) -> None:
    """Eight threads race to record the same 20 intents: each is inserted exactly once."""
    barrier = threading.Barrier(8)
    inserted: list[str] = []
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            barrier.wait()
            for n in range(20):
                with store.begin() as connection:
                    if insert_if_absent(connection, invoices, _intent(f"D{n}")):
                        inserted.append(f"D{n}")
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=writer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(inserted) == sorted(f"D{n}" for n in range(20))
    with store.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(invoices)).scalar_one() == 20


def test_a_second_invoice_for_a_deal_is_refused_by_the_database(store: Store) -> None:
    with store.begin() as connection:
        connection.execute(invoices.insert(), _intent("D1"))
    with pytest.raises(sa.exc.IntegrityError), store.begin() as connection:
        connection.execute(invoices.insert(), {**_intent("D1"), "idempotency_key": "OS-other"})


def test_upsert_updates_only_the_named_columns(store: Store) -> None:
    row = {
        "account": "acme",
        "codigo_cliente_omie": 42,
        "document": "11222333000181",
        "legal_name": "Old",
        "inactive": False,
        "synced_at": NOW,
    }
    with store.begin() as connection:
        upsert(connection, omie_clients, [row], ["account", "codigo_cliente_omie"])
        upsert(
            connection,
            omie_clients,
            [{**row, "legal_name": "New", "document": "X"}],
            ["account", "codigo_cliente_omie"],
            update_columns=["legal_name"],
        )
    with store.connect() as connection:
        stored = connection.execute(sa.select(omie_clients)).one()
    assert (stored.legal_name, stored.document) == ("New", "11222333000181")


def test_money_and_times_round_trip(store: Store) -> None:
    with store.begin() as connection:
        connection.execute(invoices.insert(), {**_intent("D9"), "gross_amount": Decimal("98765432.19")})
    with store.connect() as connection:
        stored = connection.execute(sa.select(invoices)).one()
    assert stored.gross_amount == Decimal("98765432.19")
    assert stored.created_at == NOW
    assert stored.created_at.utcoffset() == timedelta(0)


def test_naive_times_are_refused(store: Store) -> None:
    with pytest.raises(sa.exc.StatementError, match="naive datetime"), store.begin() as connection:
        connection.execute(invoices.insert(), {**_intent("D2"), "created_at": datetime(2026, 1, 1)})


def test_sync_state_keeps_watermarks_per_account(store: Store) -> None:
    mark = datetime(2026, 11, 1, 12, tzinfo=UTC)
    with store.begin() as connection:
        sync_state.set_datetime(connection, "acme", "deals_watermark", mark)
        sync_state.set_datetime(connection, "acme", "deals_watermark", mark + timedelta(hours=1))
        sync_state.set_value(connection, "beta", "deals_watermark", "x")
    with store.connect() as connection:
        assert sync_state.get_datetime(connection, "acme", "deals_watermark") == mark + timedelta(hours=1)
        assert sync_state.get_value(connection, "beta", "deals_watermark") == "x"
        assert sync_state.get_value(connection, "gamma", "deals_watermark") is None


def test_many_rows_upserted_in_one_statement_read_back_as_written(store: Store) -> None:
    """A batch of rows (datetimes in any zone, Decimal, booleans, None) goes to the database as one
    executemany, reads back exactly, and a second batch updates what it names and adds the rest."""
    executions: list[bool] = []
    sa.event.listen(
        store.engine,
        "before_cursor_execute",
        lambda *args: executions.append(args[-1]) if "INSERT" in args[2] else None,
    )
    base = {
        "account": "acme",
        "codigo_cliente_integracao": None,
        "trade_name": None,
        "billing_gaps": None,
        "changed_at": None,
        "synced_at": NOW,
    }
    first = [
        {**base, "codigo_cliente_omie": n, "document": f"{n:014d}", "legal_name": f"Client {n}", "inactive": n % 2 == 0}
        for n in range(1, 301)
    ]
    second = [
        {**first[n - 1], "legal_name": f"Renamed {n}", "changed_at": NOW + timedelta(hours=n)} for n in range(291, 301)
    ] + [
        {**base, "codigo_cliente_omie": n, "document": None, "legal_name": f"New {n}", "inactive": True}
        for n in range(301, 311)
    ]

    with store.begin() as connection:
        upsert(connection, omie_clients, first, ["account", "codigo_cliente_omie"])
    with store.begin() as connection:
        upsert(connection, omie_clients, second, ["account", "codigo_cliente_omie"])

    with store.connect() as connection:
        stored = {row.codigo_cliente_omie: row for row in connection.execute(sa.select(omie_clients))}
    expected = {row["codigo_cliente_omie"]: row for row in first + second}
    assert len(stored) == 310 == len(expected)
    for omie_id, row in expected.items():
        read = stored[omie_id]
        assert (read.document, read.legal_name, read.inactive, read.changed_at, read.synced_at) == (
            row["document"],
            row["legal_name"],
            row["inactive"],
            row["changed_at"],
            row["synced_at"],
        ), omie_id
    assert stored[300].changed_at == NOW + timedelta(hours=300) and stored[300].legal_name == "Renamed 300"
    with store.connect() as connection:  # stored in the form queries compare times in
        same_moment = connection.execute(
            sa.select(sa.func.count()).where(omie_clients.c.synced_at == NOW, omie_clients.c.inactive.is_(True))
        ).scalar_one()
    assert same_moment == 150 + 10
    assert len(executions) == 2  # one statement per batch: an executemany, or one page of rows


def test_any_text_survives_a_batch_and_two_batches_of_one_transaction_are_both_written(store: Store) -> None:
    """An empty text stays empty and NULL stays NULL, whatever a text holds (the marker PostgreSQL's COPY
    reads as NULL, quotes, separators, line breaks, accents); a second batch of the same transaction is
    written too, and one that only inserts counts the rows it added."""
    texts = ["", " ", "\\N", "\\", 'Aspas "duplas", vírgula; ponto', "linha 1\nlinha 2\r\nfim", "NULL", "São Paulo"]
    base = {"account": "acme", "codigo_cliente_integracao": None, "billing_gaps": None, "changed_at": None}
    first = [
        {**base, "codigo_cliente_omie": n, "document": None, "legal_name": text, "trade_name": None, "inactive": False}
        for n, text in enumerate(texts, start=1)
    ] + [{**base, "codigo_cliente_omie": 99, "document": "", "legal_name": None, "trade_name": "", "inactive": True}]
    later = [{**row, "legal_name": f"{row['legal_name']}!"} for row in first[:2]] + [
        {
            **base,
            "codigo_cliente_omie": 100,
            "document": None,
            "legal_name": "Nova",
            "trade_name": None,
            "inactive": False,
        }
    ]

    with store.begin() as connection:
        written = upsert(
            connection, omie_clients, [{**row, "synced_at": NOW} for row in first], ["account", "codigo_cliente_omie"]
        )
        added = upsert(
            connection,
            omie_clients,
            [{**row, "synced_at": NOW} for row in later],
            ["account", "codigo_cliente_omie"],
            [],
        )

    with store.connect() as connection:
        stored = {row.codigo_cliente_omie: row for row in connection.execute(sa.select(omie_clients))}
    assert (written, added) == (len(first), 1)
    assert [stored[n].legal_name for n in range(1, len(texts) + 1)] == texts  # the second batch left them be
    assert (stored[99].document, stored[99].legal_name, stored[99].trade_name) == ("", None, "")
    assert stored[1].trade_name is None and stored[100].legal_name == "Nova"


def test_sqlite_keeps_moments_as_sqlalchemys_datetime_text_and_reads_them_back_in_utc() -> None:
    """The one-step SQLite processors write what SQLAlchemy's `DateTime` would (so stored moments
    compare and sort as before) and read back what it and `process_result_value` would."""
    from sqlalchemy.dialects import sqlite

    from omie_pipeline.store.types import UtcDateTime

    dialect = sqlite.dialect()
    kept = UtcDateTime().dialect_impl(dialect)
    write, read = kept.bind_processor(dialect), kept.result_processor(dialect, None)
    as_before = sa.types.TypeDecorator.bind_processor(kept, dialect)
    read_before = sa.types.TypeDecorator.result_processor(kept, dialect, None)
    moments = [NOW, NOW.replace(microsecond=0), NOW.replace(microsecond=7), datetime(1, 1, 2, tzinfo=UTC)]
    for moment in moments:
        text = write(moment)
        assert text == as_before(moment)
        assert read(text) == read_before(text) == moment
        assert read(text).tzinfo is UTC
    for text in ("2026-01-01 12:00:00", "2026-01-01 12:00:00+03:00"):
        assert read(text) == read_before(text)
    assert write(None) is None and read(None) is None
    with pytest.raises(ValueError, match="naive datetime"):
        write(datetime(2026, 1, 1))
