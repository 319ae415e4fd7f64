"""Omie's consumption limits: request rates, concurrency, redundant calls and the misuse block.

Each guard is thread-safe on its own; times are `time.monotonic()` seconds passed in by the caller
so that one request sees one consistent "now".
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field

from omie_pipeline.simulator import errors


def _wait_seconds(remaining: float) -> int:
    """Seconds to tell the caller: whole seconds, never 0 while something is still pending."""
    return max(1, math.ceil(remaining - 1e-9))


class RateLimiter:
    """Sliding windows of the last `window` seconds: per (ip, app_key, method) and per ip.

    A call is admitted only if both windows have room, and only an admitted call is recorded, so a
    call rejected with 429 does not consume quota.
    """

    def __init__(self, window: float, per_method: int, per_ip: int) -> None:
        self.window = window
        self.per_method = per_method
        self.per_ip = per_ip
        self._lock = threading.Lock()
        self._by_method: dict[tuple[str, str, str], deque[float]] = defaultdict(deque)
        self._by_ip: dict[str, deque[float]] = defaultdict(deque)

    def _trim(self, stamps: deque[float], now: float) -> deque[float]:
        while stamps and stamps[0] <= now - self.window:
            stamps.popleft()
        return stamps

    def admit(self, ip: str, app_key: str, method: str, now: float) -> None:
        """Record the call, or raise the 429 fault naming which limit was hit."""
        with self._lock:
            ip_stamps = self._trim(self._by_ip[ip], now)
            method_stamps = self._trim(self._by_method[(ip, app_key, method)], now)
            if len(ip_stamps) >= self.per_ip:
                raise errors.too_many_requests("ip", self.per_ip, self.window)
            if len(method_stamps) >= self.per_method:
                raise errors.too_many_requests(f"método {method}", self.per_method, self.window)
            ip_stamps.append(now)
            method_stamps.append(now)

    def reset(self) -> None:
        with self._lock:
            self._by_method.clear()
            self._by_ip.clear()


class ConcurrencyGate:
    """At most `limit` calls in flight per (ip, app_key, method); some methods only one at a time.

    Also keeps the number in flight per method over every caller, and its peak, for the stats.
    """

    def __init__(self, limit: int, serialised: frozenset[str]) -> None:
        self.limit = limit
        self.serialised = serialised
        self._lock = threading.Lock()
        self._in_flight: dict[tuple[str, str, str], int] = defaultdict(int)
        self._by_method: dict[str, int] = defaultdict(int)
        self.peak: dict[str, int] = defaultdict(int)

    def acquire(self, ip: str, app_key: str, method: str) -> None:
        key = (ip, app_key, method)
        limit = 1 if method in self.serialised else self.limit
        with self._lock:
            if self._in_flight[key] >= limit:
                raise errors.concurrency()
            self._in_flight[key] += 1
            self._by_method[method] += 1
            self.peak[method] = max(self.peak[method], self._by_method[method])

    def release(self, ip: str, app_key: str, method: str) -> None:
        key = (ip, app_key, method)
        with self._lock:
            self._in_flight[key] -= 1
            self._by_method[method] -= 1
            if self._in_flight[key] <= 0:
                del self._in_flight[key]

    def peaks(self) -> dict[str, int]:
        with self._lock:
            return dict(self.peak)


class RedundancyGuard:
    """Refuses the same call with the same param from the same caller within `interval` seconds.

    The interval runs from the first accepted call; repeats inside it do not extend it.
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._lock = threading.Lock()
        self._first_seen: dict[tuple[str, str, str, str], float] = {}

    def admit(self, key: tuple[str, str, str, str], now: float) -> None:
        if self.interval <= 0:
            return
        with self._lock:
            if len(self._first_seen) > 10_000:
                self._first_seen = {k: t for k, t in self._first_seen.items() if now - t < self.interval}
            first = self._first_seen.get(key)
            if first is not None and now - first < self.interval:
                raise errors.redundant(_wait_seconds(self.interval - (now - first)))
            self._first_seen[key] = now

    def reset(self) -> None:
        with self._lock:
            self._first_seen.clear()


@dataclass
class MisuseGuard:
    """Blocks an app key for `block_seconds` after `threshold` consecutive faults on one method.

    A success on that method resets its count; while blocked every call of the key is refused.
    """

    threshold: int
    block_seconds: float
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _consecutive: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    _blocked_until: dict[str, float] = field(default_factory=dict)

    def check(self, app_key: str, now: float) -> None:
        with self._lock:
            until = self._blocked_until.get(app_key)
            if until is None:
                return
            if now >= until:
                del self._blocked_until[app_key]
                return
            raise errors.misuse_block(_wait_seconds(until - now))

    def record(self, app_key: str, method: str, faulted: bool, now: float) -> bool:
        """Count one answered call; returns True when this fault starts a block."""
        with self._lock:
            key = (app_key, method)
            if not faulted:
                self._consecutive.pop(key, None)
                return False
            self._consecutive[key] += 1
            if self._consecutive[key] < self.threshold:
                return False
            for other in [k for k in self._consecutive if k[0] == app_key]:
                del self._consecutive[other]
            self._blocked_until[app_key] = now + self.block_seconds
            return True

    def reset(self) -> None:
        with self._lock:
            self._consecutive.clear()
            self._blocked_until.clear()
