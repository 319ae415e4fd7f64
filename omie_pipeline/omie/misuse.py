"""Stop a method that keeps failing before Omie blocks the whole app key.

Omie blocks an app key for about 30 minutes after roughly ten consecutive faulty calls of one
method (omie-api.md §2). A batch of bad records would get there on its own, and the block stops
every method. So the client counts, per method, the consecutive answers that were faults of the
kinds Omie counts (business faults, redundant and concurrency refusals: Omie's verdicts on a call
it looked at); at `limit` it pauses that method for `pause_seconds` (no call sent,
MisuseRiskError), which costs one method instead of the whole key. A successful answer resets the
count. Throttling answers ("consumo indevido", "Aguarde N segundos", a gateway 403) and 429/425
are refusals at the door: they neither count nor reset, so a burst alone never pauses a method.

Omie counts per app key, not per process: two processes of one key (a schedule and a backfill, two
Dagster runs) each seeing 5 faults would let Omie see 10. So the counts can live in a
`StreakLedger` that every process of the key reads and writes (the state store provides one); by
default they live in this process's memory.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

from omie_pipeline.omie import errors


class StreakLedger(Protocol):
    """Consecutive-fault counts and pauses of one app key's methods, kept where every process of the
    key sees them. Times are seconds since the epoch (wall clock: shared between processes)."""

    def paused_until(self, method: str) -> float | None:
        """When the pause of `method` ends, or None when it is not paused."""

    def fault(self, method: str, limit: int, pause_seconds: float) -> None:
        """Count one fault of `method`; at `limit` in a row, pause it for `pause_seconds`."""

    def success(self, method: str) -> None:
        """A successful answer of `method`: its count starts again from zero."""


class FaultStreaks:
    """Consecutive business faults per method of one app key, and the pauses they caused; kept in a
    `ledger` shared by processes when one is given, else in this process."""

    def __init__(self, limit: int | None, pause_seconds: float, ledger: StreakLedger | None = None) -> None:
        self.limit = limit
        self.pause_seconds = pause_seconds
        self.ledger = ledger
        self._lock = threading.Lock()
        self._streaks: dict[str, int] = {}
        self._paused_until: dict[str, float] = {}

    def check(self, method: str) -> None:
        """Raise MisuseRiskError while `method` is paused."""
        if self.ledger is not None:
            until = self.ledger.paused_until(method)
            if until is not None and until > time.time():
                self._raise(method, until - time.time())
            return
        with self._lock:
            until = self._paused_until.get(method)
            if until is None:
                return
            remaining = until - time.monotonic()
            if remaining <= 0:
                del self._paused_until[method]
                self._streaks.pop(method, None)
                return
        self._raise(method, remaining)

    def _raise(self, method: str, remaining: float) -> None:
        raise errors.MisuseRiskError(
            f"paused for {remaining:.0f} s more after {self.limit} consecutive faults, so that Omie does not "
            "block the app key; fix the records at fault",
            method=method,
            retry_after=remaining,
        )

    def record(self, method: str, *, faulted: bool) -> None:
        """Count one answer of `method` (faulted: a fault of a kind Omie counts)."""
        if self.limit is None:
            return
        if self.ledger is not None:
            if faulted:
                self.ledger.fault(method, self.limit, self.pause_seconds)
            else:
                self.ledger.success(method)
            return
        with self._lock:
            if not faulted:
                self._streaks.pop(method, None)
                return
            self._streaks[method] = self._streaks.get(method, 0) + 1
            if self._streaks[method] >= self.limit:
                self._paused_until[method] = time.monotonic() + self.pause_seconds
