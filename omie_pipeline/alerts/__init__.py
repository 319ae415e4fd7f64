"""Alerts for on-call: message text, known causes, channels, and their delivery with retries.

`watch` holds the work the sensors call (it reads the state store); the other modules are pure
text and transport.
"""

from omie_pipeline.alerts.causes import (
    KNOWN_CAUSES,
    UNKNOWN_CAUSE,
    KnownCause,
    cause_for,
)
from omie_pipeline.alerts.channels import (
    AlertChannel,
    ChannelError,
    LogChannel,
    SlackChannel,
    WebhookChannel,
)
from omie_pipeline.alerts.delivery import DeliveryPolicy, DeliveryRound
from omie_pipeline.alerts.messages import InvoiceFacts, RunFailureFacts
from omie_pipeline.alerts.model import Alert, AlertKind

__all__ = [
    "KNOWN_CAUSES",
    "UNKNOWN_CAUSE",
    "Alert",
    "AlertChannel",
    "AlertKind",
    "ChannelError",
    "DeliveryPolicy",
    "DeliveryRound",
    "InvoiceFacts",
    "KnownCause",
    "LogChannel",
    "RunFailureFacts",
    "SlackChannel",
    "WebhookChannel",
    "cause_for",
]
