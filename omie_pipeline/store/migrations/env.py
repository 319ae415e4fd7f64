"""Alembic environment: runs against the engine handed over by omie_pipeline.store.migrate."""

from __future__ import annotations

from alembic import context

from omie_pipeline.store.tables import VERSION_TABLE, metadata

engine = context.config.attributes["engine"]

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        version_table=VERSION_TABLE,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
