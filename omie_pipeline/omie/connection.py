"""`call(path, method, param)`: one Omie call, paced, retried when that is safe, never repeated in vain.

- Reads are answered from the read cache within Omie's redundancy interval, and retried on
  transient failures, throttling answers, rate limits, concurrency and redundancy faults and
  blocks, with exponential backoff and jitter, honouring every wait Omie states (N + 1 s when it
  says N; 10 s, then 61 s, after a concurrency refusal).
- Writes are sent once. A rejection made before Omie looked at the request (429, a throttling
  answer, concurrency, block, no connection) may be sent again; any failure after which the write
  may have happened (timeout, reset, 5xx, a "request already processed" answer, the "consumo
  indevido" burst answer) raises OutcomeUnknownError.
- No wait is sat through past the run's deadline (`omie.deadline`): the wait error is raised.
- Business faults are never retried.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Mapping
from typing import Any

from omie_pipeline.domain.privacy import redact_cpfs
from omie_pipeline.omie import errors
from omie_pipeline.omie.account import shared_account
from omie_pipeline.omie.deadline import seconds_left
from omie_pipeline.omie.methods import is_read
from omie_pipeline.omie.metrics import CallMetrics
from omie_pipeline.omie.misuse import FaultStreaks, StreakLedger
from omie_pipeline.omie.pacing import OmieLimits
from omie_pipeline.omie.transport import Transport

log = logging.getLogger("omie_pipeline.omie")

DEFAULT_BLOCK_SECONDS = 1800.0
"""How long to hold off when Omie blocks the key without saying for how long (its usual block)."""

CONCURRENCY_WAITS = (10.0, 61.0)
"""After Omie's "Já existe uma requisição desse método sendo executada": integrators wait about 10 s,
then at least 61 s (omie-api.md §15); Omie answers it even shortly after the previous call ended,
so sub-second backoff only adds refusals."""

_INTEGRATION_CODE_TAGS = ("cCodIntOS", "codigo_cliente_integracao", "cCodIntServ", "codigo_empresa_integracao")
_OMIE_ID_TAGS = ("nCodOS", "codigo_cliente_omie", "nCodServ", "codigo_empresa")


class OmieConnection:
    """Calls to one Omie app key; safe to share between threads.

    `timeout` is (connect, read) seconds. `max_wait` is the longest wait imposed by Omie (a stated
    retry time, a block, the redundancy interval) that the client sits through by itself;
    anything longer is raised to the caller. Its own backoff (`backoff_base` doubling up to
    `backoff_max`, with jitter) is not limited by it.
    `fault_streak_limit` consecutive business faults of one method pause that method for
    `fault_pause_seconds` (None: never), keeping clear of Omie's misuse block.
    With a `fault_ledger` those streaks are kept there, where every process of the app key sees
    them (Omie counts per key), instead of in this process.
    `concurrency_waits` are the waits after the first and every later concurrency refusal of a call.
    `pacing_url` names the pacing ledger shared with other processes (omie/ledger.py: `sqlite:///path`
    for the processes of one machine, `redis://host:port/db` for a cluster); None paces this process only.
    """

    def __init__(
        self,
        base_url: str,
        app_key: str,
        app_secret: str,
        *,
        limits: OmieLimits | None = None,
        timeout: tuple[float, float] = (5.0, 30.0),
        redundant_seconds: float = 60.0,
        max_retries: int = 5,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        max_wait: float = 120.0,
        fault_streak_limit: int | None = 8,
        fault_pause_seconds: float = 1800.0,
        concurrency_waits: tuple[float, float] = CONCURRENCY_WAITS,
        fault_ledger: StreakLedger | None = None,
        pacing_url: str | None = None,
    ) -> None:
        if not app_key or not app_secret:
            raise ValueError("the Omie app key and app secret are both required")
        if max_retries < 0:
            raise ValueError(f"max_retries must not be negative; got {max_retries}")
        self.limits = limits or OmieLimits()
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_wait = max_wait
        self.concurrency_waits = tuple(concurrency_waits)
        # A call's in-flight place outlives its longest possible attempt; a process that dies frees it then.
        self._lease_seconds = sum(timeout) + 5.0
        self._transport = Transport(
            base_url,
            str(app_key),
            app_secret,
            timeout=timeout,
            pool_size=max(16, self.limits.max_in_flight * 4),
        )
        self._account = shared_account(
            self._transport.base_url,
            str(app_key),
            self.limits,
            redundant_seconds,
            fault_streak_limit,
            fault_pause_seconds,
            pacing_url,
        )
        self._streaks = (
            FaultStreaks(fault_streak_limit, fault_pause_seconds, fault_ledger)
            if fault_ledger is not None
            else self._account.streaks
        )
        self._metrics = CallMetrics()

    @property
    def base_url(self) -> str:
        return self._transport.base_url

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, app_key={self._transport.app_key!r})"

    def __enter__(self) -> OmieConnection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled HTTP connections."""
        self._transport.close()

    def metrics(self) -> dict[str, dict[str, Any]]:
        """Per method: calls, retries, cache_hits, faults by kind, pacing and retry wait seconds."""
        return self._metrics.snapshot()

    def call(self, path: str, method: str, param: Mapping[str, Any], *, fresh: bool = False) -> dict[str, Any]:
        """Call `method` of the service at `path` (e.g. "geral/clientes/") with one param object.

        Returns Omie's answer (numbers with a fraction as Decimal). A read repeated within the
        redundancy interval is answered from memory unless `fresh`, which instead waits until
        Omie will answer it anew.
        """
        if not isinstance(param, Mapping):
            raise TypeError(f"param must be a mapping (one object); got {type(param).__name__}")
        param = dict(param)
        if is_read(method):
            key = (path.strip("/"), method, json.dumps(param, sort_keys=True, default=str))
            return self._account.reads.read(
                key,
                lambda: self._send(path, method, param, read=True),
                fresh=fresh,
                max_wait=self.max_wait,
                on_wait=lambda seconds: self._metrics.waited(method, seconds),
                on_hit=lambda: self._cache_hit(method),
            )
        try:
            return self._send(path, method, param, read=False)
        finally:
            self._account.reads.mark_stale()

    def _cache_hit(self, method: str) -> None:
        self._metrics.cache_hit(method)
        log.debug("omie %s answered from the read cache", method)

    def _send(self, path: str, method: str, param: dict[str, Any], *, read: bool) -> dict[str, Any]:
        attempt = concurrency_refusals = 0
        while True:
            try:
                return self._attempt(path, method, param)
            except errors.OmieError as failure:
                if isinstance(failure, errors.ConcurrencyError):
                    concurrency_refusals += 1
                if not read and _maybe_applied(failure):
                    if isinstance(failure, errors.ThrottledError):  # Omie answered: let the burst pass first
                        self._pause_before_look_up(failure, method, attempt)
                    raise self._outcome_unknown(failure, method, param) from failure
                if not _may_resend(failure, read) or attempt >= self.max_retries:
                    raise
                if _stated_wait(failure) > self.max_wait:
                    raise
                delay = self._retry_delay(failure, attempt, concurrency_refusals)
                self._check_deadline(failure, max(delay, _stated_wait(failure)), method)
                attempt += 1
                log.info("omie %s: %s; retry %d/%d in %.2f s", method, failure.kind, attempt, self.max_retries, delay)
                self._metrics.retried(method, delay)
                time.sleep(delay)

    def _check_deadline(self, failure: errors.OmieError, wait: float, method: str) -> None:
        """Raise `failure` (marked past_deadline) when its wait would end after the run's deadline."""
        left = seconds_left()
        if left is None or wait <= left:
            return
        if isinstance(failure, errors.WaitError):
            failure.past_deadline = True
        log.info(
            "omie %s: %s; a wait of %.1f s would pass the run's deadline (%.1f s left): not sent again in this run",
            method,
            failure.kind,
            wait,
            left,
        )
        raise failure

    def _pause_before_look_up(self, failure: errors.ThrottledError, method: str, attempt: int) -> None:
        """Wait out a burst answer to a write (within the deadline) before the caller looks it up."""
        delay = self._retry_delay(failure, attempt, 0)
        left = seconds_left()
        delay = min(delay, self.max_wait, left if left is not None else delay)
        self._metrics.waited(method, delay)
        time.sleep(delay)

    def _attempt(self, path: str, method: str, param: dict[str, Any]) -> dict[str, Any]:
        account = self._account
        self._streaks.check(method)
        with account.pacer.slot(method, self.max_wait, self._lease_seconds) as waited:
            self._metrics.sent(method, waited)
            try:
                answer = self._transport.send(path, method, param)
            except errors.OmieError as failure:
                self._metrics.fault(method, failure.kind)
                if isinstance(failure, errors.BlockedError):
                    seconds = failure.retry_after if failure.retry_after is not None else DEFAULT_BLOCK_SECONDS
                    account.pacer.block(seconds)
                    log.warning(
                        "omie blocked app key %s for %.0f s: %s",
                        self._transport.app_key,
                        seconds,
                        failure.faultstring or failure.message,
                    )
                if isinstance(failure, errors.ConcurrencyError) and account.pacer.serialise_after_refusal(method):
                    log.warning("omie %s: refused while several were running; sent one at a time from now on", method)
                if isinstance(failure, errors.MISUSE_COUNTED_ERRORS) and not isinstance(failure, errors.NoRecordsError):
                    self._streaks.record(method, faulted=True)
                raise
        self._streaks.record(method, faulted=False)
        return answer

    def _retry_delay(self, failure: errors.OmieError, attempt: int, concurrency_refusals: int) -> float:
        """Omie's stated wait plus a little jitter, the concurrency waits, else exponential backoff with jitter."""
        if isinstance(failure, errors.BlockedError):
            return 0.0  # the pacer holds every call of the key until the block ends
        if isinstance(failure, errors.ConcurrencyError) and failure.retry_after is None:
            first, later = self.concurrency_waits
            return (first if concurrency_refusals <= 1 else later) + random.uniform(0, self.backoff_base)
        stated = getattr(failure, "retry_after", None)
        if stated is not None:
            return stated + random.uniform(0, self.backoff_base)
        ceiling = min(self.backoff_max, self.backoff_base * 2**attempt)
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def _outcome_unknown(
        self, failure: errors.OmieError, method: str, param: dict[str, Any]
    ) -> errors.OutcomeUnknownError:
        code, omie_id = _record_keys(param)
        # A client's integration code holds its document: a person's CPF must not reach logs.
        named = f" (integration code {redact_cpfs(code)})" if code else (f" (Omie id {omie_id})" if omie_id else "")
        log.warning("omie %s%s: outcome unknown after %s; not resent before a look-up", method, named, failure.kind)
        answered = isinstance(failure, errors.ThrottledError)
        what = (
            "Omie's answer does not say whether this write was run" if answered else "the answer to this write was lost"
        )
        return errors.OutcomeUnknownError(
            f"{what} ({failure.kind}: {failure.message}); it may have been applied: "
            f"look the record up{named} before sending it again",
            integration_code=code,
            omie_id=omie_id,
            answered=answered,
            method=method,
            faultstring=failure.faultstring,
            faultcode=failure.faultcode,
            http_status=failure.http_status,
        )


def _stated_wait(failure: errors.OmieError) -> float:
    """The wait Omie imposes before a resend (0 when it states none; a block always imposes one)."""
    stated = getattr(failure, "retry_after", None)
    if isinstance(failure, errors.BlockedError) and stated is None:
        return DEFAULT_BLOCK_SECONDS
    return stated or 0.0


def _maybe_applied(failure: errors.OmieError) -> bool:
    """A write failure after which Omie may have applied the write."""
    if isinstance(failure, errors.TransientError):
        return failure.reached_omie
    if isinstance(failure, errors.ThrottledError):
        return failure.applied_unknown
    return isinstance(failure, errors.RedundantRequestError)


def _may_resend(failure: errors.OmieError, read: bool) -> bool:
    if read:
        return isinstance(failure, errors.RETRYABLE_READ_ERRORS)
    if isinstance(failure, errors.TransientError):
        return not failure.reached_omie
    return isinstance(failure, errors.NOT_PROCESSED_ERRORS)


def _record_keys(param: Mapping[str, Any]) -> tuple[str | None, int | None]:
    """The integration code and Omie id a write names, at the top level or in its header block."""
    blocks = [param] + [
        value for key, value in param.items() if key.lower() == "cabecalho" and isinstance(value, Mapping)
    ]
    code = next(
        (
            str(block[tag]).strip()
            for block in blocks
            for tag in _INTEGRATION_CODE_TAGS
            if str(block.get(tag) or "").strip()
        ),
        None,
    )
    omie_id = next(
        (
            int(block[tag])
            for block in blocks
            for tag in _OMIE_ID_TAGS
            if str(block.get(tag) or "").strip().isdigit() and int(block[tag])
        ),
        None,
    )
    return code, omie_id
