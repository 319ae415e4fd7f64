"""Keeping below Omie's limits inside one process: request rates, calls in flight, blocks.

Omie counts 240 requests per window per (IP, app key, method) and 960 per IP, allows 4 calls of a
method in flight (1 for methods it serialises) and blocks an app key that misbehaves. One
`Pacer` per app key holds, for every thread of the process:

- two moving windows from the `limits` library (in-memory storage, thread-safe): one per
  (app key, method) and one per app key. A call is sent only when both windows, counting the
  calls still in flight, have room; so no interval of `window` seconds ever holds more calls
  than Omie allows, whatever way Omie aligns its window;
- one gate per method capping the calls in flight; a method Omie refuses with "Já existe uma
  requisição desse método sendo executada" while several of its calls are out goes down to one
  at a time for the rest of the process (`serialise_after_refusal`), so the cap follows what Omie
  does whichever way its rules for that method turn out;
- the moment a block ends: no call of the app key leaves before it.

Omie stamps a call when it arrives, which this process cannot see: only that it was after the
call was sent and before its answer came back. So a call is entered in the windows when its
answer is back, and counted as in flight until then. Stamping at sending time instead lets a
call that travelled slowly (a new connection, a busy network) land in Omie's next window and
be refused with 429.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType

from limits import RateLimitItem
from limits.limits import Granularity
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from omie_pipeline.omie import errors
from omie_pipeline.omie.methods import is_read

CONCURRENT_WRITES: frozenset[str] = frozenset({"IncluirOS", "FaturarOS", "IncluirCliente"})
"""Writes sent up to `max_in_flight` at a time: each creates or bills its own record, named by its own
integration code, and Omie's limits page allows 4 calls of a method in flight (omie-api.md §3).
Every other write (alterations, upserts, cancellations, deletions) stays one at a time: Omie's
older page refuses concurrent inclusions and alterations, and those change records that may be
shared. (ValidarOS is a read here: it changes nothing, and goes 4 at a time like every read.)"""


@dataclass(frozen=True)
class OmieLimits:
    """Omie's limits as this process should respect them (defaults: Omie's production values).

    `in_flight_overrides` sets the in-flight cap of single methods; with `serialise_writes`,
    every method that changes data defaults to one at a time (Omie's older page refuses
    concurrent inclusions and alterations), except `concurrent_writes` (the emission writes,
    `CONCURRENT_WRITES`), which go up to `max_in_flight`. `window_margin_seconds` (default 10 ms)
    pads the window for clock granularity.
    """

    window_seconds: float = 60.0
    per_method: int = 240
    per_app_key: int = 960
    max_in_flight: int = 4
    in_flight_overrides: Mapping[str, int] = field(default_factory=dict)
    serialise_writes: bool = True
    concurrent_writes: frozenset[str] = CONCURRENT_WRITES
    window_margin_seconds: float | None = None

    def __post_init__(self) -> None:
        if self.window_seconds <= 0:
            raise ValueError(f"window_seconds must be positive; got {self.window_seconds!r}")
        for name in ("per_method", "per_app_key", "max_in_flight"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1; got {getattr(self, name)!r}")
        bad = {method: cap for method, cap in self.in_flight_overrides.items() if cap < 1}
        if bad:
            raise ValueError(f"in_flight_overrides must be at least 1; got {bad!r}")
        if self.window_margin_seconds is not None and self.window_margin_seconds < 0:
            raise ValueError(f"window_margin_seconds must not be negative; got {self.window_margin_seconds!r}")
        object.__setattr__(self, "in_flight_overrides", MappingProxyType(dict(self.in_flight_overrides)))
        object.__setattr__(self, "concurrent_writes", frozenset(self.concurrent_writes))

    def __hash__(self) -> int:
        return hash(self.identity())

    def identity(self) -> tuple:
        """A hashable value equal for equal limits (clients with equal limits share pacing)."""
        return (
            self.window_seconds,
            self.per_method,
            self.per_app_key,
            self.max_in_flight,
            tuple(sorted(self.in_flight_overrides.items())),
            self.serialise_writes,
            tuple(sorted(self.concurrent_writes)),
            self.window_margin_seconds,
        )

    @property
    def margin_seconds(self) -> float:
        if self.window_margin_seconds is not None:
            return self.window_margin_seconds
        return 0.01

    def in_flight_for(self, method: str) -> int:
        if method in self.in_flight_overrides:
            return self.in_flight_overrides[method]
        if self.serialise_writes and not is_read(method) and method not in self.concurrent_writes:
            return 1
        return self.max_in_flight


class _PerMilliseconds(RateLimitItem):
    """A `limits` rate item whose window is a whole number of milliseconds (tests use short windows)."""

    GRANULARITY = Granularity(0.001, "millisecond")  # type: ignore[arg-type]


class _Gate:
    """The calls of one method in flight, at most `limit`; the limit can be lowered while calls are out."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.out = 0
        self._changed = threading.Condition()

    def acquire(self) -> None:
        with self._changed:
            while self.out >= self.limit:
                self._changed.wait()
            self.out += 1

    def release(self) -> None:
        with self._changed:
            self.out -= 1
            self._changed.notify()

    def lower(self, limit: int) -> bool:
        """Cap at `limit` from now on (calls already out finish); True when that lowered it."""
        with self._changed:
            if limit >= self.limit:
                return False
            self.limit = limit
            return True


class Pacer:
    """The pacing state of one app key, shared by every thread and client of the process.

    A call holds a slot from just before it is sent until its answer (or failure) is back; the
    windows then keep its completion time. Omie stamped the call somewhere in between, so a
    call counts against the window while in flight and until `window` seconds after it ended:
    a little conservative, but exact whatever the network latency.
    """

    def __init__(self, app_key: str, limits: OmieLimits) -> None:
        self.app_key = app_key
        self.limits = limits
        window_ms = max(1, round((limits.window_seconds + limits.margin_seconds) * 1000))
        self._per_method = _PerMilliseconds(limits.per_method, window_ms, namespace="omie-method")
        self._per_key = _PerMilliseconds(limits.per_app_key, window_ms, namespace="omie-key")
        self._windows = MovingWindowRateLimiter(MemoryStorage())
        self._lock = threading.Lock()
        self._gates: dict[str, _Gate] = {}
        self._in_flight: dict[str, int] = {}
        self._in_flight_total = 0
        self._blocked_until = 0.0

    def block(self, seconds: float) -> None:
        """Stop every call of the app key for `seconds` (Omie said it blocked the key)."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, time.monotonic() + seconds)

    @contextmanager
    def slot(self, method: str, max_block_wait: float) -> Iterator[float]:
        """Hold one in-flight place and one place in both windows for one request of `method`.

        Yields the seconds spent waiting for them. Raises BlockedError, without waiting, when
        the app key is blocked for longer than `max_block_wait`.
        """
        started = time.monotonic()
        gate = self._gate(method)
        gate.acquire()
        try:
            self._reserve(method, max_block_wait)
            try:
                yield time.monotonic() - started
            finally:
                self._complete(method)
        finally:
            gate.release()

    def serialise_after_refusal(self, method: str) -> bool:
        """Omie refused a call of `method` because another was running: when this process had
        several out, the method goes one at a time from now on. True when its cap was lowered."""
        gate = self._gate(method)
        return gate.out > 1 and gate.lower(1)

    def _gate(self, method: str) -> _Gate:
        with self._lock:
            if method not in self._gates:
                self._gates[method] = _Gate(self.limits.in_flight_for(method))
            return self._gates[method]

    def _reserve(self, method: str, max_block_wait: float) -> None:
        while True:
            with self._lock:
                blocked = self._blocked_until - time.monotonic()
                wait = blocked if blocked > 0 else self._room_wait(method)
                if wait is None:
                    self._in_flight[method] = self._in_flight.get(method, 0) + 1
                    self._in_flight_total += 1
                    return
            if blocked > max_block_wait:
                raise errors.BlockedError(
                    f"app key blocked by Omie for {blocked:.0f} s more; no call sent",
                    method=method,
                    retry_after=blocked,
                )
            time.sleep(max(wait, 0.001))

    def _room_wait(self, method: str) -> float | None:
        """None when both windows have room for one more call, else the seconds until one may.

        Called under `_lock`: checking and reserving are one step for every thread.
        """
        by_method = self._windows.get_window_stats(self._per_method, self.app_key, method)
        by_key = self._windows.get_window_stats(self._per_key, self.app_key)
        method_full = by_method.remaining - self._in_flight.get(method, 0) <= 0
        key_full = by_key.remaining - self._in_flight_total <= 0
        if not method_full and not key_full:
            return None
        now = time.time()
        resets = [stats.reset_time for stats, full in ((by_method, method_full), (by_key, key_full)) if full]
        return max(resets) - now

    def _complete(self, method: str) -> None:
        """The call is over: it now counts in both windows from this moment."""
        with self._lock:
            self._in_flight[method] -= 1
            self._in_flight_total -= 1
            self._windows.hit(self._per_method, self.app_key, method)
            self._windows.hit(self._per_key, self.app_key)
