"""What one alert says, independent of where it is sent.

An alert is built once from the state store's facts, recorded in `alerts_sent`, and rendered by
each channel (log line, Slack blocks, JSON object). The record keeps the alert as JSON so that a
channel that failed can be retried later with exactly the same content, in the language it was
written in (`language`): the labels a channel adds are rendered in that language too.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from omie_pipeline.i18n import _, current_language, using_language


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
    safe to show (CPFs masked, no secrets). `commands[0]` is the one command that resolves or
    inspects it; `runbook_url` links the runbook's section on it. `client`, `amount` and
    `status_age` are the invoice's at a glance (Slack shows them as fields), already formatted.
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
    runbook_url: str | None = None
    client: str | None = None
    amount: str | None = None
    status_age: str | None = None
    language: str = field(default_factory=current_language)

    @property
    def command(self) -> str | None:
        """The one command that resolves or inspects what the alert is about."""
        return self.commands[0] if self.commands else None

    @property
    def text(self) -> str:
        """The whole alert as plain text: the body of the log line and of the alert record."""
        with using_language(self.language):
            lines = [self.subject, "", self.summary]
            if self.facts:
                lines += [""] + [f"{label}: {value}" for label, value in self.facts]
            if self.next_steps:
                lines += ["", _("What to check first:")]
                lines += [f"{n}. {step}" for n, step in enumerate(self.next_steps, 1)]
            if self.commands:
                lines += ["", _("Commands:")] + [f"  {command}" for command in self.commands]
            if self.runbook_url:
                lines += ["", _("Runbook: {url}").format(url=self.runbook_url)]
            if self.run_url:
                lines += ["", _("Run: {url}").format(url=self.run_url)]
            return "\n".join(lines)

    def to_payload(self) -> dict[str, Any]:
        """The JSON object the generic webhook receives (and the record keeps)."""
        payload = asdict(self)
        payload["kind"] = self.kind.value
        payload["facts"] = [{"label": label, "value": value} for label, value in self.facts]
        payload["next_steps"] = list(self.next_steps)
        payload["commands"] = list(self.commands)
        payload["command"] = self.command
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
            runbook_url=payload.get("runbook_url"),
            client=payload.get("client"),
            amount=payload.get("amount"),
            status_age=payload.get("status_age"),
            # Alerts recorded before alerts carried a language were written in English.
            language=payload.get("language", "en"),
        )
