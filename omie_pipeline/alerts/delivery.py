"""Delivering one alert to its channels within one sensor evaluation.

A sensor must finish in seconds whatever a receiver does, so a round is bounded three ways: a
channel gets at most `tries_per_round` tries per alert (a short pause between them, and no second
try after a timeout, which already cost the full read timeout), a channel that failed is not tried
again for the other alerts of the same round, and nothing but the log is tried once the round's
time budget is spent. What was not delivered stays pending in the alert record for a later round.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from omie_pipeline.alerts.channels import AlertChannel, ChannelError
from omie_pipeline.alerts.model import Alert

log = logging.getLogger("omie_pipeline.alerts.delivery")

ALWAYS_ON = "log"


@dataclass(frozen=True)
class DeliveryPolicy:
    """How hard one round tries, and how many rounds an alert gets before it is given up."""

    tries_per_round: int = 2
    retry_pause_seconds: float = 0.5
    max_attempts: int = 5
    round_budget_seconds: float = 40.0


@dataclass
class DeliveryResult:
    """What one round did for one alert."""

    delivered: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # channel -> reason, no URL in it
    skipped: dict[str, str] = field(default_factory=dict)  # channel -> why it was not tried

    @property
    def tried(self) -> bool:
        return bool(self.delivered or self.failed)

    @property
    def pending(self) -> list[str]:
        return [*self.failed, *self.skipped]

    def error_text(self) -> str | None:
        reasons = [f"{name}: {reason}" for name, reason in {**self.failed, **self.skipped}.items()]
        return "; ".join(reasons) or None


class DeliveryRound:
    """The deliveries of one sensor evaluation."""

    def __init__(
        self,
        channels: Sequence[AlertChannel],
        policy: DeliveryPolicy,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.channels = {channel.name: channel for channel in channels}
        self.policy = policy
        self._clock = clock
        self._sleep = sleep
        self._deadline = clock() + policy.round_budget_seconds
        self.broken: dict[str, str] = {}

    @property
    def channel_names(self) -> list[str]:
        return list(self.channels)

    def names_for(self, account: str) -> list[str]:
        """The channels an alert of `account` goes to: the deployment's, and the account's own
        (named `<kind>:<account>`), none of another account's."""
        return [name for name in self.channels if ":" not in name or name.endswith(f":{account}")]

    def out_of_time(self) -> bool:
        return self._clock() >= self._deadline

    def would_try(self, names: Iterable[str]) -> bool:
        """Whether delivering to `names` now would try at least one channel."""
        return any(self._skip_reason(name) is None for name in names)

    def _skip_reason(self, name: str) -> str | None:
        if name not in self.channels:
            return "channel no longer configured"
        if name in self.broken:
            return f"not tried, it failed earlier in this round ({self.broken[name]})"
        if name != ALWAYS_ON and self.out_of_time():
            return "not tried, this round's time budget was spent"
        return None

    def deliver(self, alert: Alert, names: Iterable[str], *, attempt: int) -> DeliveryResult:
        """Send `alert` to each channel in `names`; `attempt` (1-based) is only for the log."""
        result = DeliveryResult()
        for name in names:
            reason = self._skip_reason(name)
            if reason is not None:
                result.skipped[name] = reason
                continue
            error = self._send_with_retries(self.channels[name], alert)
            if error is None:
                result.delivered.append(name)
                continue
            self.broken[name] = error
            result.failed[name] = error
            final = attempt >= self.policy.max_attempts
            log.warning(
                "alert %s: %s delivery failed (%s), attempt %d of %d%s",
                alert.key,
                name,
                error,
                attempt,
                self.policy.max_attempts,
                "; giving up" if final else "; will retry on a later evaluation",
            )
        return result

    def _send_with_retries(self, channel: AlertChannel, alert: Alert) -> str | None:
        """None when delivered, else the last failure's reason."""
        reason = "not tried"
        for try_number in range(1, max(1, self.policy.tries_per_round) + 1):
            try:
                channel.send(alert)
                return None
            except ChannelError as error:
                reason = error.reason
                if not error.retryable or try_number >= self.policy.tries_per_round or self.out_of_time():
                    break
            except Exception as error:  # a channel bug must not cost the alert or the sensor
                reason = f"unexpected {error.__class__.__name__}"
                break
            log.info("alert %s: %s try %d failed (%s), trying again", alert.key, channel.name, try_number, reason)
            self._sleep(self.policy.retry_pause_seconds)
        return reason
