"""Never send the same read twice within Omie's redundancy interval (60 s).

Omie refuses a call repeated with the same param within about 60 s, and every refusal counts
towards its misuse block. So each read's answer (or business fault) is kept for the interval and
served again from memory. A write makes the kept answers stale: a read repeated after a write
waits until the interval since its last sending has passed, then goes to Omie again.
Concurrent callers of the same read wait for the first one instead of sending it too.

Omie counts repeats whoever sends them: the moment each read was answered is also noted in the pacing
ledger (by a hash of the app key's scope and the read), and a read another process had answered within
the interval waits until it has passed, rather than meet Omie's refusal. Answers stay in the
process that asked for them.
"""

from __future__ import annotations

import copy
import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from omie_pipeline.omie import errors
from omie_pipeline.omie.ledger_contract import PacingLedger

ReadKey = tuple[str, str, str]
"""(path, method, param as canonical JSON)."""


@dataclass
class _Kept:
    answered_at: float
    answer: dict[str, Any] | None
    fault: errors.OmieError | None
    fresh: bool = True


class ReadCache:
    """Answers of recent reads of one app key, by (path, method, param)."""

    def __init__(self, interval_seconds: float, ledger: PacingLedger, scope: str) -> None:
        self.interval = interval_seconds
        self.ledger = ledger
        self.scope = scope
        self._lock = threading.Lock()
        self._kept: dict[ReadKey, _Kept] = {}
        self._key_locks: dict[ReadKey, list] = {}

    def read(
        self,
        key: ReadKey,
        send: Callable[[], dict[str, Any]],
        *,
        fresh: bool = False,
        max_wait: float,
        on_wait: Callable[[float], None],
        on_hit: Callable[[], None],
    ) -> dict[str, Any]:
        """The answer to `key`, from memory (`on_hit` is told) or from `send`.

        `fresh` skips the kept answer and waits out the interval instead (for polling). A wait
        longer than `max_wait` raises RedundantRequestError rather than sleeping.
        """
        with self._hold(key):
            kept = self._current(key)
            if kept is not None and kept.fresh and not fresh:
                on_hit()
                return self._replay(kept)
            if kept is not None:
                wait = kept.answered_at + self.interval - time.monotonic()
                if wait > max_wait:
                    raise errors.RedundantRequestError(
                        f"the same read was answered {self.interval - wait:.0f} s ago; Omie refuses a repeat "
                        f"for {wait:.0f} s more",
                        method=key[1],
                        retry_after=wait,
                    )
                if wait > 0:
                    on_wait(wait)
                    time.sleep(wait)
            read_id = self._wait_for_other_processes(key, max_wait, on_wait)
            try:
                answer = send()
            except errors.BUSINESS_ERRORS as fault:
                self._keep(key, _Kept(time.monotonic(), None, fault))
                raise
            finally:
                if read_id is not None:  # Omie's interval started somewhere before the answer: counted from it
                    self.ledger.note_read(read_id, time.time(), self.interval)
            self._keep(key, _Kept(time.monotonic(), answer, None))
            return copy.deepcopy(answer)

    def _wait_for_other_processes(self, key: ReadKey, max_wait: float, on_wait: Callable[[float], None]) -> str | None:
        """Wait until the interval since any process last had this read answered has passed; its ledger id."""
        if self.interval <= 0:
            return None
        read_id = f"{self.scope}:read:" + hashlib.sha256("\0".join(key).encode()).hexdigest()[:32]
        sent_at = self.ledger.read_sent_at(read_id)
        wait = sent_at + self.interval - time.time() if sent_at is not None else 0.0
        if wait > max_wait:
            raise errors.RedundantRequestError(
                f"the same read was answered {self.interval - wait:.0f} s ago in another process; Omie refuses "
                f"a repeat for {wait:.0f} s more",
                method=key[1],
                retry_after=wait,
            )
        if wait > 0:
            on_wait(wait)
            time.sleep(wait)
        return read_id

    def mark_stale(self) -> None:
        """After a write: kept answers may be out of date, so none is served again."""
        with self._lock:
            for kept in self._kept.values():
                kept.fresh = False

    def _current(self, key: ReadKey) -> _Kept | None:
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None and time.monotonic() - kept.answered_at >= self.interval:
                del self._kept[key]
                return None
            return kept

    def _keep(self, key: ReadKey, kept: _Kept) -> None:
        if self.interval <= 0:
            return
        with self._lock:
            now = time.monotonic()
            expired = [k for k, v in self._kept.items() if now - v.answered_at >= self.interval]
            for old in expired:
                del self._kept[old]
            self._kept[key] = kept

    @staticmethod
    def _replay(kept: _Kept) -> dict[str, Any]:
        if kept.fault is not None:
            raise copy.copy(kept.fault)
        return copy.deepcopy(kept.answer)

    @contextmanager
    def _hold(self, key: ReadKey) -> Iterator[None]:
        """One caller at a time per key; the per-key lock lives while someone uses it."""
        with self._lock:
            entry = self._key_locks.setdefault(key, [threading.Lock(), 0])
            entry[1] += 1
        entry[0].acquire()
        try:
            yield
        finally:
            entry[0].release()
            with self._lock:
                entry[1] -= 1
                if entry[1] == 0:
                    del self._key_locks[key]
