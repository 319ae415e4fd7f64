"""Progress of a pipeline pass: one live line on a terminal, plain log lines otherwise."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

from omie_pipeline.runner.summary import PipelineSummary

PLAIN_EVERY_SECONDS = 10.0


class Progress:
    """Shows the stage, deals settled of total, invoices waiting on the prefeitura and time
    spent waiting on Omie's limits. Reads come from a callable so the display never touches
    the pipeline's own objects."""

    def __init__(
        self,
        read_summary: Callable[[], PipelineSummary],
        read_pacing_wait: Callable[[], float],
        stream: TextIO | None = None,
        interactive: bool | None = None,
        quiet: bool = False,
    ) -> None:
        self._read_summary = read_summary
        self._read_pacing_wait = read_pacing_wait
        self._stream = stream or sys.stderr
        self._interactive = self._stream.isatty() if interactive is None else interactive
        self._quiet = quiet
        self._stage = "starting"
        self._started = time.monotonic()
        self._last_plain = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def stage(self, name: str) -> None:
        self._stage = name
        self._emit(force=True)

    def line(self) -> str:
        try:
            summary = self._read_summary()
        except Exception:  # the store may be mid-migration at the very start
            return f"[{self._elapsed()}] {self._stage}"
        return (
            f"[{self._elapsed()}] {self._stage}: deals settled {summary.deals_settled}/{summary.deals_closed}, "
            f"invoices waiting on the prefeitura {summary.pending_invoices}, "
            f"waited on Omie's limits {self._read_pacing_wait():.1f}s"
        )

    def __enter__(self) -> Progress:
        if not self._quiet:
            self._thread = threading.Thread(target=self._loop, name="progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        self._emit(force=True)
        if self._interactive and not self._quiet:
            self._stream.write("\n")
            self._stream.flush()

    def _loop(self) -> None:
        while not self._stop.wait(1.0):
            self._emit()

    def _emit(self, force: bool = False) -> None:
        if self._quiet:
            return
        now = time.monotonic()
        if self._interactive:
            self._stream.write("\r\x1b[2K" + self.line())
            self._stream.flush()
        elif force or now - self._last_plain >= PLAIN_EVERY_SECONDS:
            self._last_plain = now
            self._stream.write(self.line() + "\n")
            self._stream.flush()

    def _elapsed(self) -> str:
        seconds = int(time.monotonic() - self._started)
        return f"{seconds // 60:02d}:{seconds % 60:02d}"
