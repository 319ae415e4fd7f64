"""When Dagster may retry a step that calls Omie: only when Omie was briefly unavailable."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from omie_pipeline.omie import errors

READ_RETRY = dg.RetryPolicy(max_retries=2, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)
RETRYABLE = (errors.TransientError, errors.RateLimitedError, errors.ConcurrencyError, errors.RedundantRequestError)


@contextmanager
def retry_only_transient() -> Iterator[None]:
    """Let Dagster retry the step only for a passing Omie fault; wrong keys, a bad regime or a
    broken map fail once, since a retry would only repeat them (and count towards Omie's block)."""
    try:
        yield
    except RETRYABLE:
        raise
    except Exception as error:
        raise dg.Failure(description=f"{type(error).__name__}: {error}", allow_retries=False) from error
