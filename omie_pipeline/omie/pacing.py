"""Keeping below Omie's limits, for every thread and process that calls Omie: rates, calls in flight, blocks.

Omie counts 240 requests per window per (IP, app key, method) and 960 per IP, whatever the app key,
allows 4 calls of a method in flight (1 for methods it serialises) and blocks an app key that
misbehaves. One `Pacer` per app key applies, through a `PacingLedger` (omie/ledger.py) that every
process using the same ledger shares:

- two moving windows: one per (app key, method) and one per host, which every app key called
  from this host draws on (Omie's per-IP budget). A call is sent only when both windows,
  counting the calls still in flight, have room; so no interval of `window` seconds ever holds
  more calls than Omie allows, whatever way Omie aligns its window;
- a cap on the calls of a method in flight; a method Omie refuses with "Já existe uma requisição
  desse método sendo executada" goes down to one at a time for the rest of the process
  (`serialise_after_refusal`), so the cap follows what Omie does whichever way its rules for that
  method turn out;
- the moment a block ends: no call of the app key leaves before it.

Ledger names are hashes of the Omie server and the app key (the key never appears in them), and
of the host name and the Omie server for the per-IP window: another server (a sandbox, a
simulator) keeps counts of its own.

Omie stamps a call when it arrives, which this process cannot see: only that it was after the
call was sent and before its answer came back. So a call is entered in the windows when its
answer is back, and counted as in flight until then. Stamping at sending time instead lets a
call that travelled slowly (a new connection, a busy network) land in Omie's next window and
be refused with 429.
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import urlsplit

from omie_pipeline.omie import errors
from omie_pipeline.omie.ledger_contract import PacingLedger, Reservation
from omie_pipeline.omie.methods import is_read

CONCURRENT_WRITES: frozenset[str] = frozenset({"IncluirOS", "FaturarOS", "IncluirCliente"})
"""Writes sent up to `max_in_flight` at a time: each creates or bills its own record, named by its own
integration code, and Omie's limits page allows 4 calls of a method in flight (omie-api.md §3).
Every other write (alterations, upserts, cancellations, deletions) stays one at a time: Omie's
older page refuses concurrent inclusions and alterations, and those change records that may be
shared. (ValidarOS is a read here: it changes nothing, and goes 4 at a time like every read.)"""


@dataclass(frozen=True)
class OmieLimits:
    """Omie's limits as the callers of one ledger should respect them (defaults: Omie's production values).

    `per_ip` is the budget of every app key called from this host together.

    `in_flight_overrides` sets the in-flight cap of single methods; with `serialise_writes`,
    every method that changes data defaults to one at a time (Omie's older page refuses
    concurrent inclusions and alterations), except `concurrent_writes` (the emission writes,
    `CONCURRENT_WRITES`), which go up to `max_in_flight`. `window_margin_seconds` (default 10 ms)
    pads the window for clock granularity.
    """

    window_seconds: float = 60.0
    per_method: int = 240
    per_ip: int = 960
    max_in_flight: int = 4
    in_flight_overrides: Mapping[str, int] = field(default_factory=dict)
    serialise_writes: bool = True
    concurrent_writes: frozenset[str] = CONCURRENT_WRITES
    window_margin_seconds: float | None = None

    def __post_init__(self) -> None:
        if self.window_seconds <= 0:
            raise ValueError(f"window_seconds must be positive; got {self.window_seconds!r}")
        for name in ("per_method", "per_ip", "max_in_flight"):
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
            self.per_ip,
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


class Pacer:
    """The pacing of one app key at one Omie server, over the ledger its callers share.

    A call holds an in-flight place from just before it is sent until its answer (or failure) is
    back; the windows then keep its completion time. Omie stamped the call somewhere in between,
    so a call counts against the windows while in flight and until `window` seconds after it ended:
    a little conservative, but exact whatever the network latency. A place whose process died is
    freed at its deadline (`lease_seconds` after it was taken).
    """

    def __init__(self, base_url: str, app_key: str, limits: OmieLimits, ledger: PacingLedger) -> None:
        self.limits = limits
        self.ledger = ledger
        server = urlsplit(base_url).netloc
        self.scope = "omie-pacing:key:" + _digest(server, app_key)
        self.ip_scope = "omie-pacing:ip:" + _digest(socket.gethostname(), server)
        self._window = limits.window_seconds + limits.margin_seconds
        self._serialised: set[str] = set()
        self._serialised_lock = threading.Lock()

    def block(self, seconds: float) -> None:
        """Stop every call of the app key for `seconds` (Omie said it blocked the key), in every process."""
        self.ledger.block(self.scope, time.time() + seconds)

    @contextmanager
    def slot(self, method: str, max_block_wait: float, lease_seconds: float) -> Iterator[float]:
        """Hold one in-flight place and one place in both windows for one request of `method`.

        Yields the seconds spent waiting for them. Raises BlockedError, without waiting, when
        the app key is blocked for longer than `max_block_wait`.
        """
        started = time.monotonic()
        claim = self._reserve(method, max_block_wait, lease_seconds)
        try:
            yield time.monotonic() - started
        finally:
            self.ledger.complete(claim)

    def serialise_after_refusal(self, method: str) -> bool:
        """Omie refused a call of `method` because another was running: the method goes one at a
        time from now on in this process. True when its cap was lowered (at most once per method)."""
        with self._serialised_lock:
            if method in self._serialised or self.limits.in_flight_for(method) <= 1:
                return False
            self._serialised.add(method)
            return True

    def _in_flight_cap(self, method: str) -> int:
        return 1 if method in self._serialised else self.limits.in_flight_for(method)

    def _reserve(self, method: str, max_block_wait: float, lease_seconds: float) -> Reservation:
        while True:
            blocked = self.ledger.blocked_until(self.scope) - time.time()
            if blocked > max_block_wait:
                raise errors.BlockedError(
                    f"app key blocked by Omie for {blocked:.0f} s more; no call sent",
                    method=method,
                    retry_after=blocked,
                )
            if blocked > 0:
                time.sleep(blocked)
                continue
            claim = Reservation(
                token=uuid.uuid4().hex,
                method_window=f"{self.scope}:{method}",
                method_limit=self.limits.per_method,
                in_flight_cap=self._in_flight_cap(method),
                ip_window=self.ip_scope,
                ip_limit=self.limits.per_ip,
                window_seconds=self._window,
                deadline=time.time() + lease_seconds,
            )
            wait = self.ledger.reserve(claim)
            if wait is None:
                return claim
            time.sleep(wait)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:24]
