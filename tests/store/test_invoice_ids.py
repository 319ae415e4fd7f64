"""An invoice row's id is never given to another row, on either backend: runs that read an invoice,
call Omie and then write by that id can never land on a newer invoice that took a deleted row's id."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from alembic import command

from omie_pipeline.store import Store, migrate
from omie_pipeline.store.invoices import claim, delete_unsent_intent, get_invoice
from omie_pipeline.store.tables import invoices


def _intent(deal_id: str) -> dict:
    now = datetime.now(UTC)
    return {
        "account": "acme",
        "deal_id": deal_id,
        "idempotency_key": f"OS-{deal_id}",
        "status": "submitted",
        "gross_amount": Decimal("100.00"),
        "net_amount": Decimal("100.00"),
        "created_at": now,
        "status_changed_at": now,
    }


def _id_after_deleting_the_newest(engine: sa.Engine) -> tuple[int, int]:
    with engine.begin() as connection:
        connection.execute(sa.insert(invoices), [_intent("D1"), _intent("D2")])
        deleted = connection.execute(sa.select(sa.func.max(invoices.c.id))).scalar_one()
        connection.execute(sa.delete(invoices).where(invoices.c.id == deleted))
        connection.execute(sa.insert(invoices), [_intent("D3")])
        newest = connection.execute(sa.select(invoices.c.id).where(invoices.c.deal_id == "D3")).scalar_one()
    return deleted, newest


def test_a_deleted_invoice_id_is_never_given_to_the_next_row(db_url: str) -> None:
    store = Store(db_url)
    deleted, newest = _id_after_deleting_the_newest(store.engine)
    store.dispose()

    assert newest > deleted


def test_a_sqlite_store_migrated_from_the_earlier_schema_keeps_its_rows_and_stops_reusing_ids(tmp_path: Path) -> None:
    engine = Store(f"sqlite:///{tmp_path / 'store.sqlite'}", auto_migrate=False).engine
    command.upgrade(migrate.alembic_config(engine), "0008")
    with engine.begin() as connection:
        connection.execute(sa.insert(invoices), [_intent("D0")])

    migrate.upgrade(engine)
    deleted, newest = _id_after_deleting_the_newest(engine)
    with engine.connect() as connection:
        kept = connection.execute(sa.select(invoices.c.deal_id).order_by(invoices.c.id)).scalars().all()
    engine.dispose()

    assert newest > deleted
    assert kept == ["D0", "D1", "D3"]


def test_a_write_names_the_invoice_by_its_id_and_its_key(db_url: str) -> None:
    """Whatever gave a run an invoice's id, it writes only to the row that still holds that invoice's key."""
    store = Store(db_url)
    with store.begin() as connection:
        connection.execute(sa.insert(invoices), [_intent("D1")])
        held = get_invoice(connection, "acme", "D1")
    another = replace(held, idempotency_key="OS-D2")
    now = datetime.now(UTC)
    with store.begin() as connection:
        taken = [claim(connection, invoice, "run-A", now, timedelta(minutes=5)) for invoice in (another, held)]
        dropped = delete_unsent_intent(connection, another, "run-A")
    store.dispose()

    assert taken == [False, True] and dropped is False
