"""What every client of one Omie app key in this process shares.

Omie counts per IP and app key, not per client object: two clients of the same key (two Dagster
resources, two threads) must draw on the same rate windows, the same in-flight caps, the same
block, the same read cache and the same fault streaks. Clients with the same base URL, app key,
settings and pacing ledger get the same `Account`; its pacer and the moments of its reads live in
the ledger at `pacing_url` (omie/ledger.py), where other processes see them too.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from omie_pipeline.omie.ledger import ledger_for
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
    pacing_url: str | None = None,
) -> Account:
    """The account state for these settings, created on first use (`pacing_url` None: this process only)."""
    key = (base_url, app_key, limits.identity(), redundant_seconds, fault_streak_limit, fault_pause_seconds, pacing_url)
    with _accounts_lock:
        if key not in _accounts:
            ledger = ledger_for(pacing_url)
            pacer = Pacer(base_url, app_key, limits, ledger)
            _accounts[key] = Account(
                pacer=pacer,
                reads=ReadCache(redundant_seconds, ledger, pacer.scope),
                streaks=FaultStreaks(fault_streak_limit, fault_pause_seconds),
            )
        return _accounts[key]
