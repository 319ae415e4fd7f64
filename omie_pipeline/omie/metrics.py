"""Counts per Omie method, for Dagster metadata and for people reading a run.

Per method: requests sent (`calls`), resends (`retries`), reads answered from memory
(`cache_hits`), faults by kind, and seconds spent waiting for pacing, for retries and for
Omie's stated waits.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class _MethodCounts:
    calls: int = 0
    retries: int = 0
    cache_hits: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    pacing_wait_seconds: float = 0.0
    retry_wait_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "retries": self.retries,
            "cache_hits": self.cache_hits,
            "faults": dict(self.faults),
            "pacing_wait_seconds": round(self.pacing_wait_seconds, 3),
            "retry_wait_seconds": round(self.retry_wait_seconds, 3),
        }


class CallMetrics:
    """Thread-safe counters of one client."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_method: dict[str, _MethodCounts] = {}

    def _counts(self, method: str) -> _MethodCounts:
        return self._by_method.setdefault(method, _MethodCounts())

    def sent(self, method: str, pacing_wait: float) -> None:
        with self._lock:
            counts = self._counts(method)
            counts.calls += 1
            counts.pacing_wait_seconds += pacing_wait

    def retried(self, method: str, wait: float) -> None:
        with self._lock:
            counts = self._counts(method)
            counts.retries += 1
            counts.retry_wait_seconds += wait

    def waited(self, method: str, wait: float) -> None:
        """Time spent waiting without a retry (e.g. for Omie's redundancy interval)."""
        with self._lock:
            self._counts(method).pacing_wait_seconds += wait

    def fault(self, method: str, kind: str) -> None:
        with self._lock:
            self._counts(method).faults[kind] += 1

    def cache_hit(self, method: str) -> None:
        with self._lock:
            self._counts(method).cache_hits += 1

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """`{method: {calls, retries, cache_hits, faults: {kind: n}, pacing_wait_seconds, retry_wait_seconds}}`."""
        with self._lock:
            return {method: counts.as_dict() for method, counts in sorted(self._by_method.items())}
