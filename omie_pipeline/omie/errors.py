"""What can go wrong when talking to Omie, as exceptions a caller can act on.

Every exception keeps Omie's own `faultstring` (already cleared of the app secret) so that a
person can read what Omie said; the class says what to do about it:

| class | what the caller does |
|---|---|
| AuthenticationError | fix OMIE_APP_KEY / OMIE_APP_SECRET; nothing will work until then |
| ValidationError | fix the named `field` of the record; never resend as is |
| NotFoundError | the record is not in Omie (NoRecordsError: an empty page) |
| AlreadyExistsError | adopt the record Omie already has (`existing_id`) |
| RefusedError | Omie answered "no" (`cCodStatus` other than "0", or a business fault) |
| RedundantRequestError | the same request was sent moments ago; wait `retry_after` |
| ThrottledError | Omie (or its gateway) refused the call for pace; wait `retry_after` and send it again |
| ConcurrencyError | another call of the method is running at Omie; retry shortly |
| RateLimitedError | a request-rate limit was hit; back off |
| BlockedError | the app key is blocked for misuse; wait `retry_after` (until `blocked_until`) |
| TransientError | Omie or the network failed; safe to retry a read later |
| OutcomeUnknownError | a write may or may not have happened: look it up before resending |
| MisuseRiskError | the client stopped a method that kept failing, before Omie blocks the key |
"""

from __future__ import annotations

from datetime import datetime


class OmieError(Exception):
    """Base of every client error; `kind` names the class for metrics and logs."""

    kind = "error"

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        faultstring: str | None = None,
        faultcode: str | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.faultstring = faultstring
        self.faultcode = faultcode
        self.http_status = http_status

    def __str__(self) -> str:
        where = f"{self.method}: " if self.method else ""
        return f"{where}{self.message}"


class AuthenticationError(OmieError):
    """Omie does not accept the app key / app secret."""

    kind = "authentication"


class ValidationError(OmieError):
    """The request is malformed or a field is missing or invalid; `field` names the tag when Omie does."""

    kind = "validation"

    def __init__(self, message: str, *, field: str | None = None, **details) -> None:
        super().__init__(message, **details)
        self.field = field


class NotFoundError(OmieError):
    """The record asked for does not exist in Omie."""

    kind = "not_found"


class NoRecordsError(NotFoundError):
    """A listing page with nothing on it (Omie's 5113): the end of the data, not a failure."""

    kind = "no_records"


class AlreadyExistsError(OmieError):
    """Omie already holds this record; `existing_id` / `integration_code` say which, when Omie tells."""

    kind = "already_exists"

    def __init__(
        self, message: str, *, existing_id: int | None = None, integration_code: str | None = None, **details
    ) -> None:
        super().__init__(message, **details)
        self.existing_id = existing_id
        self.integration_code = integration_code


class RefusedError(OmieError):
    """Omie answered but said no: a `cCodStatus` other than "0" or a business fault it did not name."""

    kind = "refused"

    def __init__(self, message: str, *, status_code: str | None = None, **details) -> None:
        super().__init__(message, **details)
        self.status_code = status_code


class WaitError(OmieError):
    """A refusal that ends by itself after `retry_after` seconds (None when Omie does not say).

    `past_deadline` is True when the client did not sit through the wait because it would end
    after the run's deadline (`omie.deadline`): the work is left for the next run.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **details) -> None:
        super().__init__(message, **details)
        self.retry_after = retry_after
        self.past_deadline = False


class RedundantRequestError(WaitError):
    """The same call with the same param reached Omie moments ago."""

    kind = "redundant"


class ConcurrencyError(WaitError):
    """Omie is already running a call of this method for this app key."""

    kind = "concurrency"


class ThrottledError(WaitError):
    """Omie refused the call for pace, in one of its several wordings ("... consumo indevido ...",
    "Aguarde N segundos para efetuar a requisição", "Tente novamente em N segundos"), or its gateway
    answered a 403 HTML page during a burst. Not the account-wide block, not a business fault.

    `applied_unknown` is True for the wording that does not say the request was not run (the
    Client-500 "consumo indevido" burst answer): a write refused so is looked up before it is resent.
    """

    kind = "throttled"

    def __init__(self, message: str, *, applied_unknown: bool = False, **details) -> None:
        super().__init__(message, **details)
        self.applied_unknown = applied_unknown


class RateLimitedError(WaitError):
    """Too many requests in Omie's window (HTTP 429)."""

    kind = "rate_limited"


class BlockedError(WaitError):
    """The app key is blocked for misuse; no call goes out until `blocked_until`."""

    kind = "blocked"

    def __init__(self, message: str, *, blocked_until: datetime | None = None, **details) -> None:
        super().__init__(message, **details)
        self.blocked_until = blocked_until


class TransientError(OmieError):
    """Omie or the network failed in a way that may pass (5xx, HTML page, timeout, reset).

    `reached_omie` is False only when the request certainly never left this machine
    (connection refused, connect timeout), which makes even a write safe to send again.
    """

    kind = "transient"

    def __init__(self, message: str, *, reached_omie: bool = True, **details) -> None:
        super().__init__(message, **details)
        self.reached_omie = reached_omie


class OutcomeUnknownError(OmieError):
    """A write was sent and its answer was lost: it may or may not have been applied.

    The client never resends it. The caller looks the record up by `integration_code` (or
    `omie_id`) first and resends only when Omie has nothing (design.md, exactly once).
    `answered` is True when Omie did answer (a throttling answer that does not say whether the
    write ran): nothing is still in flight, so a look-up that finds nothing is final and the write
    may be sent again at once.
    """

    kind = "outcome_unknown"

    def __init__(
        self,
        message: str,
        *,
        integration_code: str | None = None,
        omie_id: int | None = None,
        answered: bool = False,
        **details,
    ) -> None:
        super().__init__(message, **details)
        self.integration_code = integration_code
        self.omie_id = omie_id
        self.answered = answered


class MisuseRiskError(OmieError):
    """The client paused a method after a streak of faults, so that Omie does not block the app key."""

    kind = "misuse_risk"

    def __init__(self, message: str, *, retry_after: float, **details) -> None:
        super().__init__(message, **details)
        self.retry_after = retry_after


RETRYABLE_READ_ERRORS: tuple[type[OmieError], ...] = (
    TransientError,
    ThrottledError,
    RateLimitedError,
    ConcurrencyError,
    RedundantRequestError,
    BlockedError,
)
"""Errors after which the same read may be sent again (after the wait)."""

NOT_PROCESSED_ERRORS: tuple[type[OmieError], ...] = (RateLimitedError, ConcurrencyError, BlockedError, ThrottledError)
"""Rejections made before Omie looked at the request: even a write may be sent again (a ThrottledError
only when not `applied_unknown`)."""

WAIT_ERRORS: tuple[type[OmieError], ...] = (ThrottledError, ConcurrencyError, RateLimitedError, RedundantRequestError)
"""Answers that only say "not now": the same intent is sent again later, never dropped or put in error."""

BUSINESS_ERRORS: tuple[type[OmieError], ...] = (
    AuthenticationError,
    ValidationError,
    NotFoundError,
    AlreadyExistsError,
    RefusedError,
)
"""Answers about the request itself; retrying them only adds to Omie's misuse count."""

MISUSE_COUNTED_ERRORS: tuple[type[OmieError], ...] = BUSINESS_ERRORS + (RedundantRequestError, ConcurrencyError)
"""Faulty answers that count towards Omie's misuse block (an empty page, NoRecordsError, does not).

Redundant and concurrency refusals are Omie's own verdicts on a call it looked at, and Omie counts
them (omie-api.md §2; a streak of them is what leads to the block), so the client's guard counts
them too. Throttling answers (ThrottledError) and 429/425 are refusals at the door, before the call
is looked at: they neither count nor reset the streak, so a burst never pauses a method by itself."""
