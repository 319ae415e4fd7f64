"""Where alerts go: the log (always), a Slack incoming webhook, a generic JSON webhook.

Every channel has a `name` and `send(alert)`, which returns when the alert was delivered and
raises `ChannelError` otherwise. A webhook URL is a secret (whoever has it can post to the
channel), so it is never part of a message, an exception or a log line: `requests` errors name
the URL, hence they are caught and replaced by a message of our own, without their chain.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol, runtime_checkable

import requests

from omie_pipeline.alerts.model import Alert
from omie_pipeline.alerts.text import shorten
from omie_pipeline.i18n import _, using_language

ALERT_LOGGER = "omie_pipeline.alerts"
SLACK_TEXT_LIMIT = 2900  # a section block's text is at most 3000 characters
RESPONSE_EXCERPT = 200


class ChannelError(Exception):
    """A delivery that did not happen. `retryable` says whether trying again soon may help."""

    def __init__(self, channel: str, reason: str, *, retryable: bool) -> None:
        super().__init__(f"{channel}: {reason}")
        self.channel = channel
        self.reason = reason
        self.retryable = retryable


@runtime_checkable
class AlertChannel(Protocol):
    name: str

    def send(self, alert: Alert) -> None:
        """Deliver `alert` or raise ChannelError."""


class LogChannel:
    """Python logging: always on, so every alert is at least in the logs."""

    name = "log"

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logger or logging.getLogger(ALERT_LOGGER)

    def send(self, alert: Alert) -> None:
        self.logger.warning("ALERT %s (%s, account %s)\n%s", alert.key, alert.kind.value, alert.account, alert.text)


class _HttpChannel:
    """POST a JSON body; 2xx is delivered, anything else a ChannelError naming no URL."""

    name = "http"

    def __init__(
        self, url: str, *, connect_timeout: float = 3.0, read_timeout: float = 5.0, account: str | None = None
    ) -> None:
        # One account's own channel is named after it ("slack:acme") and gets only that account's alerts.
        if account:
            self.name = f"{type(self).name}:{account}"
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"{self.name} webhook URL must be an http(s) URL")
        self._url = url
        self.timeout = (connect_timeout, read_timeout)

    def body(self, alert: Alert) -> dict[str, Any]:
        raise NotImplementedError

    def send(self, alert: Alert) -> None:
        # The error is raised outside the `except` blocks so that it carries no context either:
        # requests' exceptions spell out the URL.
        response, failure = None, None
        try:
            response = requests.post(self._url, json=self.body(alert), timeout=self.timeout)
        except requests.Timeout:
            failure = ChannelError(
                self.name,
                f"no answer within {self.timeout[0]:g} s (connect) / {self.timeout[1]:g} s (read)",
                retryable=False,
            )
        except requests.ConnectionError:
            failure = ChannelError(self.name, "connection failed", retryable=True)
        except requests.RequestException as error:
            failure = ChannelError(self.name, f"request failed ({error.__class__.__name__})", retryable=False)
        if failure is not None or response is None:
            raise failure or ChannelError(self.name, "no response", retryable=False)
        if 200 <= response.status_code < 300:
            return
        excerpt = shorten(response.text or "", RESPONSE_EXCERPT).replace(self._url, "***")
        retryable = response.status_code >= 500 or response.status_code == 429
        raise ChannelError(self.name, f"HTTP {response.status_code} {excerpt}".rstrip(), retryable=retryable)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(url=***)"


class SlackChannel(_HttpChannel):
    """A Slack incoming webhook, sent as Block Kit with a plain-text fallback."""

    name = "slack"

    def body(self, alert: Alert) -> dict[str, Any]:
        return slack_message(alert)


class WebhookChannel(_HttpChannel):
    """A generic webhook: the alert as one JSON object (`Alert.to_payload`)."""

    name = "webhook"

    def body(self, alert: Alert) -> dict[str, Any]:
        return alert.to_payload()


def _section(markdown: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": shorten(markdown, SLACK_TEXT_LIMIT)}}


def _escape(text: str) -> str:
    """Slack mrkdwn treats &, < and > as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _heading(title: str, body: str) -> str:
    return f"*{title}*\n{body}"


def _fields(alert: Alert) -> list[dict[str, str]]:
    """The invoice at a glance: deal, client (CPF masked), amount, status age, each a Slack field."""
    pairs = [
        (_("Deal"), alert.deal_id),
        (_("Client"), alert.client),
        (_("Amount"), alert.amount),
        (_("Status age"), alert.status_age),
    ]
    return [{"type": "mrkdwn", "text": f"*{label}*\n{_escape(value)}"} for label, value in pairs if value]


def _button(text: str, url: str) -> dict[str, Any]:
    return {"type": "button", "text": {"type": "plain_text", "text": text}, "url": url}


def slack_message(alert: Alert) -> dict[str, Any]:
    """Block Kit, in the alert's language: header, summary, the invoice's fields, facts, what to check,
    the command to run first, the other commands, and buttons to the runbook and the run."""
    with using_language(alert.language):
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": shorten(alert.subject, 150)}},
            _section(_escape(alert.summary)),
        ]
        if fields := _fields(alert):
            blocks.append({"type": "section", "fields": fields})
        if alert.facts:
            blocks.append(_section("\n".join(f"*{_escape(label)}:* {_escape(value)}" for label, value in alert.facts)))
        if alert.next_steps:
            steps = "\n".join(f"{n}. {_escape(step)}" for n, step in enumerate(alert.next_steps, 1))
            blocks.append(_section(_heading(_("What to check first"), steps)))
        if alert.command:
            blocks.append(_section(_heading(_("Run this first"), f"```{alert.command}```")))
        if len(alert.commands) > 1:
            others = "\n".join(alert.commands[1:])
            blocks.append(_section(_heading(_("Other commands"), f"```{others}```")))
        buttons = []
        # Slack refuses a button to a relative link (the default runbook path): that one is text.
        if alert.runbook_url and alert.runbook_url.startswith(("http://", "https://")):
            buttons.append(_button(_("Open the runbook"), alert.runbook_url))
        elif alert.runbook_url:
            blocks.append(_section(_("Runbook: {url}").format(url=f"`{_escape(alert.runbook_url)}`")))
        if alert.run_url:
            buttons.append(_button(_("Open the run in Dagster"), alert.run_url))
        if buttons:
            blocks.append({"type": "actions", "elements": buttons})
        context = _("{kind} · level {level}").format(kind=alert.kind.value, level=alert.level)
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"{context} · `{_escape(alert.key)}`"}]}
        )
        return {"text": alert.subject, "blocks": blocks}
