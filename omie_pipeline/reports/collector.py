"""Python's cycle collector paused while a report is built or written.

A report of 100,000 deals allocates a few million small objects (rows, cells, strings) that never
form reference cycles; each time the collector runs it walks every one of them still alive, which
cost a fifth of the CPU of building such a report. Reference counting still frees everything the
moment it is dropped; only the search for cycles waits until the report is done.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cycle collector for the block, and leave it as it was found (a caller may have paused it too)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
