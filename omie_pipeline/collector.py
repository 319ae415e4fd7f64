"""Python's cycle collector paused while a large batch job runs: a pull, a report.

Such a job allocates millions of small objects (rows, cells, strings) that never form reference
cycles, many of them held for a while (a chunk of 5,000 deals, a report's rows). Held long enough,
they reach the collector's oldest generation, and each time it runs it walks every object the
process holds -- the libraries' too -- which cost a third of the CPU of pulling 100,000 deals and a
fifth of building their report. Reference counting still frees everything the moment it is
dropped; only the search for cycles waits: until the job is done, or, for a job that goes chunk by
chunk, until the end of each chunk, over the objects made since (`collect_young`).
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


def collect_young() -> None:
    """Free the cycles among the objects made since the last collection (its youngest generation
    alone): what a chunk left behind, at the cost of a walk over what it still holds, not over the
    whole process."""
    gc.collect(0)
