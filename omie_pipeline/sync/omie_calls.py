"""Counting the Omie calls one piece of work made, from the client's own counters.

The client is shared by everything in a process and its counters only grow, so a piece of work
reports the difference between its start and its end.
"""

from __future__ import annotations

from typing import Any


class CallCounter:
    """Calls per Omie method made through `client` since this counter was created."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._start = _calls(client.metrics())

    def calls(self) -> dict[str, int]:
        now = _calls(self._client.metrics())
        return {
            method: count - self._start.get(method, 0)
            for method, count in sorted(now.items())
            if count - self._start.get(method, 0)
        }


def _calls(metrics: dict[str, dict[str, Any]]) -> dict[str, int]:
    return {method: int(counts.get("calls", 0)) for method, counts in metrics.items()}
