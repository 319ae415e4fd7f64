"""What a pacing ledger promises, apart from where it keeps its state (omie/ledger.py, omie/ledger_redis.py).

The pacer and every ledger speak through these names alone, so that each kind of ledger depends on
the promise and not on another kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

POLL_SECONDS = 0.005
"""How long to wait before asking again when a place is held by a call in flight (its end is unknown)."""


@dataclass(frozen=True)
class Reservation:
    """One call's claim: an in-flight place under `method_window` and `ip_window`, and room in both windows."""

    token: str
    method_window: str
    method_limit: int
    in_flight_cap: int
    ip_window: str
    ip_limit: int
    window_seconds: float
    deadline: float
    """Wall-clock time after which the place is free even if the call never reported back."""


class PacingLedger(Protocol):
    """Pacing state shared by the processes that use the same ledger. Times are wall-clock seconds."""

    def reserve(self, claim: Reservation) -> float | None:
        """Take the in-flight place when both windows, counting the calls in flight, have room: None.
        Otherwise take nothing and return the seconds to wait before asking again."""

    def complete(self, claim: Reservation) -> None:
        """The call is over: free its place and count it in both windows from now."""

    def block(self, scope: str, until: float) -> None:
        """No call of `scope` may leave before `until` (kept if a later block is already set)."""

    def blocked_until(self, scope: str) -> float:
        """When the block of `scope` ends (0 when there is none)."""

    def note_read(self, read_id: str, at: float, keep_seconds: float) -> None:
        """The read `read_id` was sent at `at`; kept for `keep_seconds`."""

    def read_sent_at(self, read_id: str) -> float | None:
        """When the read was last sent, while it is kept; else None."""
