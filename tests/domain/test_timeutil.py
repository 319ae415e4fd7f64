"""Aware times only: offsets required on input, UTC stored, São Paulo shown."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from omie_pipeline.domain.timeutil import (
    SAO_PAULO,
    DatetimeFormatError,
    format_date_br,
    from_omie_local,
    now_utc,
    parse_iso_datetime,
    to_sao_paulo,
)

UTC = UTC


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2026-11-20T14:30:00-03:00", datetime(2026, 11, 20, 17, 30, tzinfo=UTC)),
        ("2026-11-20T17:30:00Z", datetime(2026, 11, 20, 17, 30, tzinfo=UTC)),
        ("2026-11-20 23:30:00-03:00", datetime(2026, 11, 21, 2, 30, tzinfo=UTC)),
        ("2026-11-20T14:30:00.250+00:00", datetime(2026, 11, 20, 14, 30, 0, 250000, tzinfo=UTC)),
    ],
)
def test_iso_with_offset_is_read_into_utc(text, utc):
    parsed = parse_iso_datetime(text)
    assert parsed == utc and parsed.tzinfo == UTC


@pytest.mark.parametrize(
    ("text", "reason"),
    [("2026-11-20T14:30:00", "no_offset"), ("2026-11-20", "no_offset"), ("20/11/2026", "bad_format"), ("", "empty")],
)
def test_naive_or_unreadable_times_are_refused(text, reason):
    with pytest.raises(DatetimeFormatError) as caught:
        parse_iso_datetime(text)
    assert caught.value.reason == reason


def test_naive_datetime_objects_are_refused_too():
    with pytest.raises(DatetimeFormatError):
        parse_iso_datetime(datetime(2026, 11, 20, 14, 30))
    aware = datetime(2026, 11, 20, 14, 30, tzinfo=SAO_PAULO)
    assert parse_iso_datetime(aware) == datetime(2026, 11, 20, 17, 30, tzinfo=UTC)


def test_now_is_aware_utc():
    assert now_utc().utcoffset().total_seconds() == 0


def test_dates_shown_in_sao_paulo():
    late_evening_in_brazil = datetime(2026, 11, 21, 1, 30, tzinfo=UTC)  # 22:30 on the 20th in São Paulo
    assert format_date_br(late_evening_in_brazil) == "20/11/2026"
    assert format_date_br(date(2026, 1, 5)) == "05/01/2026"
    assert to_sao_paulo(late_evening_in_brazil).hour == 22
    with pytest.raises(ValueError):
        format_date_br(datetime(2026, 11, 21, 1, 30))


def test_omie_local_dates_and_times():
    assert from_omie_local(date(2026, 11, 20), time(22, 30)) == datetime(2026, 11, 21, 1, 30, tzinfo=UTC)
    assert from_omie_local(date(2026, 11, 20), None) == datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
