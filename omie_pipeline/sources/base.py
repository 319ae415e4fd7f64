"""What every deal source gives: rows under the canonical field names, changed since a moment.

A source only reads. It renames the CRM's columns to the canonical fields (mapping.py) and leaves
the values as the CRM holds them; judging them is `validate_deal_row`'s job, so that a bad value
becomes a deal issue with its reason instead of an error that stops the batch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from omie_pipeline.domain.timeutil import DatetimeFormatError, parse_iso_datetime


class SourceError(RuntimeError):
    """The source as a whole cannot be read (missing file or table, required column absent).

    Messages name the source and the column, never a password.
    """


@dataclass(frozen=True)
class SourceRow:
    """One record of the source under canonical field names.

    `position` says where to find it (CSV line number, or the row's place in the SQL result);
    `problem` is set when the record itself is malformed (more cells than the header).
    """

    position: int
    values: dict[str, Any]
    problem: str | None = field(default=None)


class DealSource(Protocol):
    """A place deals come from: a CSV file or a SQL table, view or query."""

    @property
    def source_id(self) -> str:
        """A short stable name for this source, the key of its watermark."""

    @property
    def description(self) -> str:
        """What people read in logs: kind and location, without credentials."""

    def read(self, since: datetime | None) -> Iterator[SourceRow]:
        """Rows whose `updated_at` is at or after `since` (every row when None).

        Rows whose `updated_at` cannot be read are always returned: they become validation issues
        rather than being skipped for ever.
        """


def source_id_for(kind: str, *parts: str) -> str:
    """`<kind>:<16 hex>`: stable for one location, short enough for the sync_state key."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:16]
    return f"{kind}:{digest}"


def readable_moment(value: Any) -> datetime | None:
    """The aware moment a raw `updated_at` stands for, or None when it cannot be read."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else None
    if isinstance(value, str):
        try:
            return parse_iso_datetime(value)
        except DatetimeFormatError:
            return None
    return None


def changed_since(row: SourceRow, since: datetime | None) -> bool:
    """Whether a row belongs to a pull from `since`: changed at or after it, or unreadable."""
    if since is None:
        return True
    moment = readable_moment(row.values.get("updated_at"))
    return moment is None or moment >= since
