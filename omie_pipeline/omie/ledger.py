"""Where pacing state lives, so that every process calling Omie from one host draws on one budget.

Omie counts per (IP, app key, method) and per IP, whoever sends the call: two processes that each
pace themselves alone send twice what Omie allows. A `PacingLedger` keeps, where every process
that uses it sees them:

- the moving windows of completed calls, by name (one per app key and method, one per host);
- the calls in flight, each with a deadline after which it no longer counts, so that a process
  killed mid-call cannot hold its place for ever;
- the moment a block of an app key ends, and the moment each read was last sent.

Checking for room and taking an in-flight place are one atomic step for all processes. What every
ledger promises (`PacingLedger`, `Reservation`) is in omie/ledger_contract.py.

`ledger_for(url)` gives the process's ledger for a URL:

- `memory://` (the default of a bare client): one process, in memory;
- `sqlite:///path`: every process of one machine, through one SQLite file. SQLite ships with
  Python, its `BEGIN IMMEDIATE` transactions already serialise writers across processes, and a
  moving window is one COUNT over a table of stamps inside the transaction that takes the
  in-flight place; a lock file beside a shared file would need its own format and recovery;
- `redis://host:port/db`: every process of a cluster (omie/ledger_redis.py).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

from filelock import FileLock

from omie_pipeline.omie.ledger_contract import POLL_SECONDS, PacingLedger, Reservation

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pacing_hits (name TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS pacing_hits_by_name ON pacing_hits (name, at);
CREATE TABLE IF NOT EXISTS pacing_in_flight (
    token TEXT PRIMARY KEY, method_window TEXT NOT NULL, ip_window TEXT NOT NULL, deadline REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS pacing_in_flight_by_method ON pacing_in_flight (method_window);
CREATE INDEX IF NOT EXISTS pacing_in_flight_by_ip ON pacing_in_flight (ip_window);
CREATE TABLE IF NOT EXISTS pacing_blocks (scope TEXT PRIMARY KEY, until REAL NOT NULL);
CREATE TABLE IF NOT EXISTS pacing_reads (read_id TEXT PRIMARY KEY, at REAL NOT NULL, expires REAL NOT NULL);
"""


class SqliteLedger:
    """The ledger in one SQLite database: a file shared by the processes of a machine, or memory.

    One connection per process, used by one thread at a time; `BEGIN IMMEDIATE` takes SQLite's
    write lock, so a check and the reservation it allows are one step for every process.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            str(path) if path is not None else ":memory:", timeout=30.0, isolation_level=None, check_same_thread=False
        )
        with self._lock:
            if path is None:
                self._db.executescript(_SCHEMA)
                return
            # Switching a new file to WAL needs an exclusive lock, and SQLite does not wait for it (no busy
            # timeout applies): processes opening the file at once would fail with "database is locked".
            # So the set-up is done by one process at a time, under a lock file beside the database.
            with FileLock(str(path) + ".lock"):
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.executescript(_SCHEMA)

    def _transaction(self):
        return _Immediate(self._db, self._lock)

    def reserve(self, claim: Reservation) -> float | None:
        with self._transaction() as db:
            now = time.time()
            db.execute("DELETE FROM pacing_in_flight WHERE deadline <= ?", (now,))
            db.execute(
                "DELETE FROM pacing_hits WHERE name IN (?, ?) AND at <= ?",
                (claim.method_window, claim.ip_window, now - claim.window_seconds),
            )
            method_in_flight = _count(db, "pacing_in_flight WHERE method_window = ?", claim.method_window)
            if method_in_flight >= claim.in_flight_cap:
                return POLL_SECONDS
            ip_in_flight = _count(db, "pacing_in_flight WHERE ip_window = ?", claim.ip_window)
            waits = []
            for name, limit, in_flight in (
                (claim.method_window, claim.method_limit, method_in_flight),
                (claim.ip_window, claim.ip_limit, ip_in_flight),
            ):
                done, oldest = db.execute(
                    "SELECT count(*), min(at) FROM pacing_hits WHERE name = ? AND at > ?",
                    (name, now - claim.window_seconds),
                ).fetchone()
                if done + in_flight >= limit:
                    waits.append(oldest + claim.window_seconds - now if oldest is not None else POLL_SECONDS)
            if waits:
                return max(max(waits), POLL_SECONDS)
            db.execute(
                "INSERT INTO pacing_in_flight (token, method_window, ip_window, deadline) VALUES (?, ?, ?, ?)",
                (claim.token, claim.method_window, claim.ip_window, claim.deadline),
            )
            return None

    def complete(self, claim: Reservation) -> None:
        with self._transaction() as db:
            now = time.time()
            db.execute("DELETE FROM pacing_in_flight WHERE token = ?", (claim.token,))
            db.executemany(
                "INSERT INTO pacing_hits (name, at) VALUES (?, ?)", [(claim.method_window, now), (claim.ip_window, now)]
            )

    def block(self, scope: str, until: float) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO pacing_blocks (scope, until) VALUES (?, ?) "
                "ON CONFLICT (scope) DO UPDATE SET until = max(until, excluded.until)",
                (scope, until),
            )

    def blocked_until(self, scope: str) -> float:
        with self._lock:
            row = self._db.execute("SELECT until FROM pacing_blocks WHERE scope = ?", (scope,)).fetchone()
        return row[0] if row else 0.0

    def note_read(self, read_id: str, at: float, keep_seconds: float) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM pacing_reads WHERE expires <= ?", (time.time(),))
            db.execute(
                "INSERT OR REPLACE INTO pacing_reads (read_id, at, expires) VALUES (?, ?, ?)",
                (read_id, at, at + keep_seconds),
            )

    def read_sent_at(self, read_id: str) -> float | None:
        with self._lock:
            row = self._db.execute(
                "SELECT at FROM pacing_reads WHERE read_id = ? AND expires > ?", (read_id, time.time())
            ).fetchone()
        return row[0] if row else None


class _Immediate:
    """`with` block: this process's lock, then SQLite's write lock for every process, committed at the end."""

    def __init__(self, db: sqlite3.Connection, lock: threading.Lock) -> None:
        self._db = db
        self._lock = lock

    def __enter__(self) -> sqlite3.Connection:
        self._lock.acquire()
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._lock.release()
            raise
        return self._db

    def __exit__(self, exc_type, *rest) -> None:
        try:
            self._db.execute("ROLLBACK" if exc_type is not None else "COMMIT")
        finally:
            self._lock.release()


def _count(db: sqlite3.Connection, where: str, value: str) -> int:
    return db.execute(f"SELECT count(*) FROM {where}", (value,)).fetchone()[0]


_ledgers: dict[tuple[str, int], PacingLedger] = {}
_ledgers_lock = threading.Lock()

MEMORY_URL = "memory://"


def ledger_for(url: str | None) -> PacingLedger:
    """The process's ledger for `url` (None: in memory), opened on first use.

    Kept per process id: a forked child opens its own connection rather than share its parent's.
    """
    url = url or MEMORY_URL
    key = (url, os.getpid())
    with _ledgers_lock:
        if key not in _ledgers:
            _ledgers[key] = _open(url)
        return _ledgers[key]


def _open(url: str) -> PacingLedger:
    if url == MEMORY_URL:
        return SqliteLedger(None)
    if url.startswith("sqlite:///"):
        return SqliteLedger(Path(url.removeprefix("sqlite:///")))
    if url.startswith(("redis://", "rediss://", "unix://")):
        from omie_pipeline.omie.ledger_redis import RedisLedger

        return RedisLedger(url)
    raise ValueError("the pacing URL must be memory://, sqlite:///path or redis://host:port/db")
