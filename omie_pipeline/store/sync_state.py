"""Small named values kept between runs: watermarks, last listing dates, cursors."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from omie_pipeline.store.tables import sync_state
from omie_pipeline.store.upsert import upsert


def get_value(connection: sa.Connection, account: str, key: str) -> str | None:
    query = sa.select(sync_state.c.value).where(sync_state.c.account == account, sync_state.c.key == key)
    return connection.execute(query).scalar_one_or_none()


def set_value(connection: sa.Connection, account: str, key: str, value: str) -> None:
    row = {"account": account, "key": key, "value": value, "updated_at": datetime.now(UTC)}
    upsert(connection, sync_state, [row], ["account", "key"])


def get_datetime(connection: sa.Connection, account: str, key: str) -> datetime | None:
    value = get_value(connection, account, key)
    return datetime.fromisoformat(value) if value else None


def set_datetime(connection: sa.Connection, account: str, key: str, value: datetime) -> None:
    if value.tzinfo is None:
        raise ValueError(f"sync state {key!r}: a timezone-aware datetime is required")
    set_value(connection, account, key, value.isoformat())
