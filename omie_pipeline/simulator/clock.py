"""Omie's date and time conventions: `dd/mm/aaaa` and `hh:mm:ss` strings in America/Sao_Paulo."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

SAO_PAULO = ZoneInfo("America/Sao_Paulo")


def now() -> datetime:
    """The current instant, aware, in São Paulo time (what Omie shows)."""
    return datetime.now(UTC).astimezone(SAO_PAULO)


def omie_date(moment: datetime | date) -> str:
    return moment.strftime("%d/%m/%Y")


def omie_time(moment: datetime) -> str:
    return moment.strftime("%H:%M:%S")


def parse_omie_date(text: str) -> date:
    """`dd/mm/aaaa` -> date; raises ValueError on anything else."""
    return datetime.strptime(text.strip(), "%d/%m/%Y").date()


def parse_omie_time(text: str) -> time:
    """`hh:mm:ss` (or `hh:mm`) -> time; raises ValueError on anything else."""
    value = text.strip()
    try:
        return datetime.strptime(value, "%H:%M:%S").time()
    except ValueError:
        return datetime.strptime(value, "%H:%M").time()


def stamp(moment: datetime) -> tuple[str, str]:
    """(date, time) pair as Omie stores it in `info.dAlt`/`hAlt` and similar fields."""
    return omie_date(moment), omie_time(moment)
