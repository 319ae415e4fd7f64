"""The pacing ledger in Redis, for every process of a cluster (`OMIE_PIPELINE_PACING_URL=redis://...`).

The windows are the `limits` library's moving windows in its Redis storage. Calls in flight are
sorted sets scored by each call's deadline: a place whose deadline passed (its process died) is
dropped at the next look. Checking the windows and taking a place happen under one Redis lock
per host budget (redis-py's `Lock`, which expires, so a process killed while holding it frees it
after `LOCK_SECONDS`).

`limits` keeps Redis expiries in whole seconds, so windows are rounded up to a whole second: with
processes on several machines stamping calls by their own clocks, that second also absorbs their
clock skew.
"""

from __future__ import annotations

import math
import time
from functools import cache

import redis
from limits import RateLimitItemPerSecond
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from omie_pipeline.omie.ledger_contract import POLL_SECONDS, Reservation

LOCK_SECONDS = 5.0
"""The longest a check-and-reserve may hold the lock: far above its few milliseconds."""


@cache
def _item(limit: int, window_seconds: float) -> RateLimitItemPerSecond:
    return RateLimitItemPerSecond(limit, max(1, math.ceil(window_seconds)), namespace="omie-pacing")


class RedisLedger:
    """Pacing state in one Redis database."""

    def __init__(self, url: str) -> None:
        self._redis = redis.Redis.from_url(url)
        self._windows = MovingWindowRateLimiter(storage_from_string(url))

    def reserve(self, claim: Reservation) -> float | None:
        method_item = _item(claim.method_limit, claim.window_seconds)
        ip_item = _item(claim.ip_limit, claim.window_seconds)
        method_key, ip_key = _in_flight(claim.method_window), _in_flight(claim.ip_window)
        with self._redis.lock(f"{claim.ip_window}:lock", timeout=LOCK_SECONDS, blocking_timeout=60):
            now = time.time()
            pipe = self._redis.pipeline()
            pipe.zremrangebyscore(method_key, "-inf", now)
            pipe.zremrangebyscore(ip_key, "-inf", now)
            pipe.zcard(method_key)
            pipe.zcard(ip_key)
            method_in_flight, ip_in_flight = pipe.execute()[2:]
            if method_in_flight >= claim.in_flight_cap:
                return POLL_SECONDS
            waits = []
            for item, name, in_flight in (
                (method_item, claim.method_window, method_in_flight),
                (ip_item, claim.ip_window, ip_in_flight),
            ):
                stats = self._windows.get_window_stats(item, name)
                if stats.remaining - in_flight <= 0:
                    done = item.amount - stats.remaining
                    waits.append(stats.reset_time - now if done > 0 else POLL_SECONDS)
            if waits:
                return max(max(waits), POLL_SECONDS)
            keep = max(1, math.ceil(claim.deadline - now))
            pipe = self._redis.pipeline()
            for key in (method_key, ip_key):
                pipe.zadd(key, {claim.token: claim.deadline})
                pipe.expire(key, keep)
            pipe.execute()
            return None

    def complete(self, claim: Reservation) -> None:
        # Counted in the windows before the place is freed: for a moment the call counts twice, never zero times.
        self._windows.hit(_item(claim.method_limit, claim.window_seconds), claim.method_window)
        self._windows.hit(_item(claim.ip_limit, claim.window_seconds), claim.ip_window)
        pipe = self._redis.pipeline()
        pipe.zrem(_in_flight(claim.method_window), claim.token)
        pipe.zrem(_in_flight(claim.ip_window), claim.token)
        pipe.execute()

    def block(self, scope: str, until: float) -> None:
        key = f"{scope}:blocked-until"
        keep = max(1, math.ceil(until - time.time()))
        with self._redis.lock(f"{key}:lock", timeout=LOCK_SECONDS, blocking_timeout=60):
            if until > self.blocked_until(scope):
                self._redis.set(key, repr(until), ex=keep)

    def blocked_until(self, scope: str) -> float:
        value = self._redis.get(f"{scope}:blocked-until")
        return float(value) if value is not None else 0.0

    def note_read(self, read_id: str, at: float, keep_seconds: float) -> None:
        self._redis.set(f"{read_id}:sent-at", repr(at), px=max(1, round(keep_seconds * 1000)))

    def read_sent_at(self, read_id: str) -> float | None:
        value = self._redis.get(f"{read_id}:sent-at")
        return float(value) if value is not None else None


def _in_flight(window: str) -> str:
    return f"{window}:in-flight"
