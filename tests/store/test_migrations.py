"""Migrations create exactly the tables the code uses, on both backends, and are idempotent."""

from __future__ import annotations

import sqlalchemy as sa

from omie_pipeline.store import Store, migrate
from omie_pipeline.store.tables import VERSION_TABLE, metadata


def test_migrations_create_every_table_and_a_second_run_is_a_no_op(db_url: str) -> None:
    engine = Store(db_url, auto_migrate=False).engine
    assert sa.inspect(engine).get_table_names() == []

    assert migrate.upgrade(engine) is True
    inspector = sa.inspect(engine)
    assert set(metadata.tables) <= set(inspector.get_table_names())
    for table in metadata.sorted_tables:
        live_columns = {column["name"] for column in inspector.get_columns(table.name)}
        assert live_columns == set(table.columns.keys()), table.name
    assert migrate.current_revision(engine) == migrate.head_revision(engine)

    assert migrate.upgrade(engine) is False
    engine.dispose()


def test_store_migrates_itself_on_first_use(db_url: str) -> None:
    store = Store(db_url)
    assert "invoices" in sa.inspect(store.engine).get_table_names()
    store.dispose()


def test_models_and_migrations_agree(db_url: str) -> None:
    """Autogenerate finds nothing to add or drop: the migration matches tables.py."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    store = Store(db_url)
    with store.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        diff = compare_metadata(context, metadata)
    structural = [
        d
        for d in diff
        if d[0]
        in ("add_table", "remove_table", "add_column", "remove_column", "add_index", "remove_index", "add_constraint")
    ]
    assert structural == []
    store.dispose()
