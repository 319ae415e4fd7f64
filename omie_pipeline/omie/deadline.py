"""The run's deadline: how long a piece of work may sit through Omie's waits.

A run (one emission, one refresh) has a time budget. A wait Omie imposes (a throttling answer's
N + 1 seconds, a concurrency refusal's 10 s then 61 s) that would end after the run's deadline is
not sat through: the call raises its wait error at once, and the work leaves the intent for the
next run. The deadline is a context variable, so it follows the code that set it (copy the context
into worker threads) and does not leak into other runs sharing the same client.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_DEADLINE: ContextVar[float | None] = ContextVar("omie_run_deadline", default=None)


@contextmanager
def run_deadline(seconds: float | None) -> Iterator[None]:
    """Within the block, waits must end within `seconds` from now (None: no deadline)."""
    token = _DEADLINE.set(None if seconds is None else time.monotonic() + seconds)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def seconds_left() -> float | None:
    """Seconds until the current run's deadline (never negative), or None when there is none."""
    deadline = _DEADLINE.get()
    return None if deadline is None else max(0.0, deadline - time.monotonic())
