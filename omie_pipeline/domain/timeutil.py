"""Time: aware datetimes only, stored in UTC, shown in São Paulo time.

A naive datetime is ambiguous by three hours (Brazil vs UTC), which is enough to move an invoice to
another day or a watermark past a deal. So input without an offset is an error, never a guess.
Omie is the exception: it writes local dates and times (`dd/mm/aaaa`, `hh:mm:ss`) without an
offset, which this module reads as São Paulo time, the time of Omie's own servers and screens.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from omie_pipeline.i18n import _

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
UTC = UTC


class DatetimeFormatError(ValueError):
    """A date/time that cannot be read. Reasons: empty, bad_format, no_offset."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def now_utc() -> datetime:
    return datetime.now(UTC)


def parse_iso_datetime(value: str | datetime) -> datetime:
    """Read ISO 8601 with an offset (`2026-11-20T14:30:00-03:00`, `...Z`); returns it in UTC."""
    if isinstance(value, datetime):
        parsed = value
    else:
        text = value.strip()
        if not text:
            raise DatetimeFormatError("empty", _("the date and time are empty"))
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise DatetimeFormatError(
                "bad_format", _("not an ISO 8601 date and time; write it as 2026-11-20T14:30:00-03:00")
            ) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise DatetimeFormatError(
            "no_offset", _("the date and time have no UTC offset; write it as 2026-11-20T14:30:00-03:00")
        )
    return parsed.astimezone(UTC)


def to_sao_paulo(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: only timezone-aware times can be shown in São Paulo time")
    return moment.astimezone(SAO_PAULO)


def format_date_br(day: date | datetime) -> str:
    """`dd/mm/aaaa`, the form Omie reads and people in Brazil expect; datetimes in São Paulo time."""
    if isinstance(day, datetime):
        day = to_sao_paulo(day).date()
    return day.strftime("%d/%m/%Y")


def from_omie_local(day: date, clock: time | None = None) -> datetime:
    """Omie's separate local date and time fields (as the typed answers read them) as one aware
    UTC datetime; midnight when Omie left the time empty."""
    return datetime.combine(day, clock or time.min, tzinfo=SAO_PAULO).astimezone(UTC)
