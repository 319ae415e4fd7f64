"""What a person does about an invoice (or its cancellation) Omie or the prefeitura refused, in plain words.

The causes come from the shared table in `omie_pipeline.alerts.causes` (Omie's own refusals of
`ValidarOS` / `FaturarOS`, prefeitura codes, certificate, prefeitura down, service code, address,
document), so an alert and `invoices show` give the same fix. A refusal nobody knows gets the
prefeitura's own correction when it sent one, else the way to read Omie's message. Every text
names its deal, in the language of the process that stores it, and messages are stored with CPFs
masked.
"""

from __future__ import annotations

import shlex

from omie_pipeline.alerts.causes import (
    CANCEL_AGAIN,
    RESEND,
    UNKNOWN_CAUSE,
    cancel_causes_for,
    causes_for,
    fix_for_causes,
    for_deal,
)
from omie_pipeline.domain.privacy import redact_cpfs
from omie_pipeline.i18n import _


def fix_for(message: str, deal_id: str, correction: str | None = None) -> str:
    """The next step for deal `deal_id`'s refusal `message`; the prefeitura's `correction` when the cause is
    unknown.
    """
    causes = causes_for(message)
    correction = (correction or "").strip().rstrip(".")
    if causes == (UNKNOWN_CAUSE,) and correction:
        return for_deal(f"{redact_cpfs(correction)}, {_(RESEND)}", shlex.quote(deal_id))
    return fix_for_causes(causes, shlex.quote(deal_id))


def cancel_fix_for(message: str, deal_id: str) -> str:
    """The next step for deal `deal_id`'s refused cancellation: the cause's fix, then asking the cancellation
    again (never billing again: the note is issued), or, past what Omie can cancel, the prefeitura's way."""
    return fix_for_causes(cancel_causes_for(message), shlex.quote(deal_id), then=CANCEL_AGAIN)


def safe_message(message: str) -> str:
    """Omie's message as stored and shown: CPFs masked, surrounding space dropped."""
    return redact_cpfs(message.strip())
