"""What one alert says, independent of where it is sent.

An alert is built once from the state store's facts, recorded in `alerts_sent`, and rendered by
each channel (log line, Slack blocks, JSON object). The record keeps the alert as JSON so that a
channel that failed can be retried later with exactly the same content.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class AlertKind(StrEnum):
    STUCK = "stuck"
    FAILED = "failed"
    RUN_FAILED = "run_failed"
    CHECK_FAILED = "check_failed"
    SALE_CHANGED = "sale_changed"


@dataclass(frozen=True)
class Alert:
    """One alert for on-call: what happened, about what, since when, what to check, what to run.

    `key` is unique per account (`stuck:<deal>:<since>:<level>`, `failed:<deal>:<since>`,
    `run_failed:<root run id>`, `check_failed:<check>:<partition>:<first failing evaluation>`,
    `sale_changed:<deal>:<NFS-e number>`): the
    same key is never sent twice. Every text field is already
    safe to show (CPFs masked, no secrets).
    """

    kind: AlertKind
    key: str
    account: str
    level: int
    subject: str
    summary: str
    facts: tuple[tuple[str, str], ...] = ()
    next_steps: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()
    deal_id: str | None = None
    since: str | None = None  # ISO 8601 UTC of when the problem started
    run_url: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The whole alert as plain text: the body of the log line and of the alert record."""
        lines = [self.subject, "", self.summary]
        if self.facts:
            lines += [""] + [f"{label}: {value}" for label, value in self.facts]
        if self.next_steps:
            lines += ["", "What to check first:"] + [f"{n}. {step}" for n, step in enumerate(self.next_steps, 1)]
        if self.commands:
            lines += ["", "Commands:"] + [f"  {command}" for command in self.commands]
        if self.run_url:
            lines += ["", f"Run: {self.run_url}"]
        return "\n".join(lines)

    def to_payload(self) -> dict[str, Any]:
        """The JSON object the generic webhook receives (and the record keeps)."""
        payload = asdict(self)
        payload["kind"] = self.kind.value
        payload["facts"] = [{"label": label, "value": value} for label, value in self.facts]
        payload["next_steps"] = list(self.next_steps)
        payload["commands"] = list(self.commands)
        payload["text"] = self.text
        return payload

    def to_json(self) -> str:
        return json.dumps(self.to_payload(), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Alert:
        payload = json.loads(text)
        return cls(
            kind=AlertKind(payload["kind"]),
            key=payload["key"],
            account=payload["account"],
            level=int(payload["level"]),
            subject=payload["subject"],
            summary=payload["summary"],
            facts=tuple((item["label"], item["value"]) for item in payload.get("facts", [])),
            next_steps=tuple(payload.get("next_steps", [])),
            commands=tuple(payload.get("commands", [])),
            deal_id=payload.get("deal_id"),
            since=payload.get("since"),
            run_url=payload.get("run_url"),
            extra=dict(payload.get("extra") or {}),
        )
