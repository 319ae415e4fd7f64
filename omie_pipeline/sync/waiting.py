"""Deals an issuing run left waiting because Omie's calls were paused, kept for whoever reports the run.

A deal waits when the misuse guard paused a method, Omie blocked the key, or a wait Omie imposed
would pass the run's deadline: nothing was sent and nothing about the deal is wrong, so it has
neither an invoice nor an issue. Without this note a sync would end looking like a success with
those deals silently unsent; with it, `omie-pipeline sync` says how many wait, why and until when.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from omie_pipeline.i18n import _
from omie_pipeline.store import sync_state

WAITING_KEY = "invoices.waiting"


@dataclass(frozen=True)
class WaitingDeals:
    """The last issuing run's waiting deals, what paused each method, and when the last pause ends."""

    deal_ids: tuple[str, ...]
    reasons: dict[str, str]  # method -> why it was paused
    until: datetime | None  # the end of the longest pause, when Omie or the guard said
    noted_at: datetime

    def describe(self) -> str:
        """Each paused method and why, in the reader's language (Omie's own words in `why` stay as Omie said them)."""
        return "; ".join(
            _("{method} paused ({why})").format(method=method, why=why) for method, why in sorted(self.reasons.items())
        )


def note_waiting(connection: sa.Connection, account: str, waiting: WaitingDeals) -> None:
    """Replace the note of the account's last issuing run (an empty one when no deal waits)."""
    sync_state.set_value(
        connection,
        account,
        WAITING_KEY,
        json.dumps(
            {
                "deal_ids": list(waiting.deal_ids),
                "reasons": waiting.reasons,
                "until": waiting.until.isoformat() if waiting.until else None,
                "noted_at": waiting.noted_at.isoformat(),
            }
        ),
    )


def read_waiting(connection: sa.Connection, account: str) -> WaitingDeals | None:
    """The note of the account's last issuing run, or None when it left no deal waiting."""
    value = sync_state.get_value(connection, account, WAITING_KEY)
    if not value:
        return None
    data = json.loads(value)
    if not data["deal_ids"]:
        return None
    return WaitingDeals(
        tuple(data["deal_ids"]),
        dict(data["reasons"]),
        datetime.fromisoformat(data["until"]) if data["until"] else None,
        datetime.fromisoformat(data["noted_at"]),
    )
