"""What every client of one Omie app key in this process shares.

Omie counts per IP and app key, not per client object: two clients of the same key (two Dagster
resources, two threads) must draw on the same rate windows, the same in-flight caps, the same
block, the same read cache and the same fault streaks. Clients with the same base URL, app key
and settings get the same `Account`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from omie_pipeline.omie.misuse import FaultStreaks
from omie_pipeline.omie.pacing import OmieLimits, Pacer
from omie_pipeline.omie.reads import ReadCache


@dataclass
class Account:
    pacer: Pacer
    reads: ReadCache
    streaks: FaultStreaks


_accounts: dict[tuple, Account] = {}
_accounts_lock = threading.Lock()


def shared_account(
    base_url: str,
    app_key: str,
    limits: OmieLimits,
    redundant_seconds: float,
    fault_streak_limit: int | None,
    fault_pause_seconds: float,
) -> Account:
    """The account state for these settings, created on first use."""
    key = (base_url, app_key, limits.identity(), redundant_seconds, fault_streak_limit, fault_pause_seconds)
    with _accounts_lock:
        if key not in _accounts:
            _accounts[key] = Account(
                pacer=Pacer(app_key, limits),
                reads=ReadCache(redundant_seconds),
                streaks=FaultStreaks(fault_streak_limit, fault_pause_seconds),
            )
        return _accounts[key]
