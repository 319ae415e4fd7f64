"""Small text rules shared by every alert: São Paulo times, durations, and scrubbing.

Text that comes from outside (Omie's and the prefeitura's messages, a run's error) may hold a CPF
or, in a badly written error, a credential. It goes through `scrub` before it reaches an alert.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta

from omie_pipeline.domain.privacy import redact_cpfs
from omie_pipeline.domain.timeutil import UTC, to_sao_paulo
from omie_pipeline.i18n import format_moment

# user:password@ inside any URL (database URLs in a driver's error, for one).
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.\-]*://)(?P<user>[^:/@\s]+):[^@/\s]+@", re.IGNORECASE)
# Query parameters that carry credentials.
_SECRET_QUERY = re.compile(r"(?P<name>(?:token|secret|key|password|sig|signature)=)[^&\s\"']+", re.IGNORECASE)
_HOOK_PATH = re.compile(r"https?://hooks\.slack\.com/\S+", re.IGNORECASE)
MASK = "***"


def format_when(moment: datetime) -> str:
    """São Paulo time, as the reader's language writes it (`dd/mm/aaaa hh:mm` in pt-BR)."""
    return format_moment(to_sao_paulo(moment))


def format_duration(length: timedelta) -> str:
    """`45 min`, `2 h 05 min`, `3 d 4 h`: precise enough to act on, short enough to read."""
    minutes = max(0, int(length.total_seconds() // 60))
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min"


def compact_utc(moment: datetime) -> str:
    """`20261120T143000Z`: a moment inside an alert key."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: alert keys are built from timezone-aware times only")
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with CPFs masked, the given secret values and URL credentials replaced by ***."""
    cleaned = text
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        cleaned = cleaned.replace(secret, MASK)
    cleaned = _HOOK_PATH.sub(MASK, cleaned)
    cleaned = _URL_CREDENTIALS.sub(lambda m: f"{m.group('scheme')}{m.group('user')}:{MASK}@", cleaned)
    cleaned = _SECRET_QUERY.sub(lambda m: f"{m.group('name')}{MASK}", cleaned)
    return redact_cpfs(cleaned)


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters, cut on a word and marked with an ellipsis when cut."""
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0] if " " in text[: limit - 1] else text[: limit - 1]
    return cut + "…"
