"""Counters of what the simulator saw and answered, served by GET /_sim/stats: the host's totals
(`SimStats`) and each company's own (`CompanyStats`)."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict, deque
from typing import Any

REJECTION_REASONS = ("429", "425", "redundant", "concurrency")
INJECTED_FAULTS = (
    "http_500",
    "html_error",
    "slow",
    "lose_response",
    "faturar_refuse",
    "duplicate_refusal",
    "scheduled",
)


class SimStats:
    """Thread-safe counters; `snapshot()` returns plain dicts ready for JSON."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.calls: Counter[str] = Counter()
            self.rejected: Counter[str] = Counter({reason: 0 for reason in REJECTION_REASONS})
            self.rate_limited_by_scope: Counter[str] = Counter({"ip": 0, "method": 0})
            self.rate_limited_by_ip: Counter[str] = Counter()
            self.unknown_key_calls = 0
            self.faults_injected: Counter[str] = Counter({kind: 0 for kind in INJECTED_FAULTS})
            self.scheduled_by_kind: Counter[str] = Counter()
            self.errors: Counter[str] = Counter()
            self.faults_by_code: Counter[str] = Counter()
            self.responses_by_status: Counter[str] = Counter()
            self.misuse_blocks_started = 0
            self.malformed_requests = 0

    def count_call(self, method: str) -> None:
        with self._lock:
            self.calls[method] += 1

    def count_rejection(self, reason: str, scope: str | None = None, ip: str | None = None) -> None:
        """One refused call; `scope` ("ip" or "method") for a 429, with the caller's `ip` for the per-IP limit."""
        with self._lock:
            self.rejected[reason] += 1
            if scope:
                self.rate_limited_by_scope[scope] += 1
            if scope == "ip" and ip:
                self.rate_limited_by_ip[ip] += 1

    def count_unknown_key(self) -> None:
        """A call whose app key no company of this simulator has."""
        with self._lock:
            self.unknown_key_calls += 1

    def count_injected(self, kind: str) -> None:
        with self._lock:
            self.faults_injected[kind] += 1

    def count_scheduled(self, kind: str) -> None:
        """One answer of the fault schedule (an injected fault, never a rejection)."""
        with self._lock:
            self.faults_injected["scheduled"] += 1
            self.scheduled_by_kind[kind] += 1

    def count_fault(self, method: str | None, faultcode: str, business: bool) -> None:
        with self._lock:
            self.faults_by_code[faultcode] += 1
            if business and method:
                self.errors[method] += 1

    def count_response(self, status: int | str) -> None:
        with self._lock:
            self.responses_by_status[str(status)] += 1

    def count_misuse_block(self) -> None:
        with self._lock:
            self.misuse_blocks_started += 1

    def count_malformed(self) -> None:
        with self._lock:
            self.malformed_requests += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "calls": dict(self.calls),
                "total_calls": sum(self.calls.values()),
                "rejected": dict(self.rejected),
                "rate_limited_by_scope": dict(self.rate_limited_by_scope),
                "rate_limited_by_ip": dict(self.rate_limited_by_ip),
                "unknown_key_calls": self.unknown_key_calls,
                "faults_injected": dict(self.faults_injected),
                "scheduled_by_kind": dict(self.scheduled_by_kind),
                "errors": dict(self.errors),
                "faults_by_code": dict(self.faults_by_code),
                "responses_by_status": dict(self.responses_by_status),
                "misuse_blocks_started": self.misuse_blocks_started,
                "malformed_requests": self.malformed_requests,
            }


class CompanyStats:
    """One company's counters: its calls and refusals by its app key (any IP), and the most calls
    of each method received within any `window` seconds (what a benchmark compares with Omie's
    per-method limit)."""

    def __init__(self, window: float) -> None:
        self.window = window
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.calls: Counter[str] = Counter()
            self.rejected: Counter[str] = Counter({reason: 0 for reason in REJECTION_REASONS})
            self.rate_limited_by_scope: Counter[str] = Counter({"ip": 0, "method": 0})
            self.errors: Counter[str] = Counter()
            self.bad_secret_calls = 0
            self.misuse_blocks_started = 0
            self._recent: dict[str, deque[float]] = defaultdict(deque)
            self.peak_calls_in_window: Counter[str] = Counter()

    def count_call(self, method: str, now: float) -> None:
        """One call received (answered or refused) at monotonic time `now`."""
        with self._lock:
            self.calls[method] += 1
            recent = self._recent[method]
            while recent and recent[0] <= now - self.window:
                recent.popleft()
            recent.append(now)
            self.peak_calls_in_window[method] = max(self.peak_calls_in_window[method], len(recent))

    def count_rejection(self, reason: str, scope: str | None = None) -> None:
        with self._lock:
            self.rejected[reason] += 1
            if scope:
                self.rate_limited_by_scope[scope] += 1

    def count_error(self, method: str) -> None:
        """A business fault answered to this company (its data or request was wrong)."""
        with self._lock:
            self.errors[method] += 1

    def count_bad_secret(self) -> None:
        with self._lock:
            self.bad_secret_calls += 1

    def count_misuse_block(self) -> None:
        with self._lock:
            self.misuse_blocks_started += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "calls": dict(self.calls),
                "total_calls": sum(self.calls.values()),
                "peak_calls_in_window": dict(self.peak_calls_in_window),
                "window_seconds": self.window,
                "rejected": dict(self.rejected),
                "rate_limited_by_scope": dict(self.rate_limited_by_scope),
                "errors": dict(self.errors),
                "bad_secret_calls": self.bad_secret_calls,
                "misuse_blocks_started": self.misuse_blocks_started,
            }
