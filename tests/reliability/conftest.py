"""The reliability suite: the whole pipeline against a simulated Omie under faults, kills, concurrent
runs and bad input, and a scan of everything it writes for secrets and personal data.

Windows and intervals are short so that each scenario takes seconds; the simulator still enforces
every limit, so a pipeline that breaks one fails the scenario.
"""

from __future__ import annotations

from typing import Any

import pytest

FAST = {
    "window_seconds": 2.0,
    "redundant_seconds": 0.5,
    "per_method_limit": 80,
    "per_ip_limit": 400,
    "misuse_block_seconds": 2.0,
    "nfse_delay": (0.05, 0.15),
    "clients": 12,
}


@pytest.fixture
def simulator_settings() -> dict[str, Any]:
    return FAST
