"""Progress of a pipeline pass: one live line on a terminal, plain log lines otherwise.

Plain lines (a log, a pipe) are written when the phase starts and, at most every 10 seconds, when
what they say changed: a phase that only takes time, such as writing many report days, prints one
line, not the same line again and again. The live line also counts the phase's steps.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import TextIO

from omie_pipeline.i18n import _, format_number
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
        self._stage = _("starting")
        self._step = ""
        self._last_plain_text: str | None = None
        self._started = time.monotonic()
        self._last_plain = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def stage(self, name: str) -> None:
        self._stage = name
        self._step = ""
        self._emit(force=True)

    def step(self, done: int, total: int) -> None:
        """Count the phase's steps on the live line (`3/17`); plain output keeps its one line per phase."""
        if self._interactive:
            self._step = f" {done}/{total}"
            self._emit()

    def line(self) -> str:
        try:
            summary = self._read_summary()
        except Exception:  # the store may be mid-migration at the very start
            return f"[{self._elapsed()}] {self._stage}{self._step}"
        counts = _(
            "deals settled {settled}/{closed}, invoices waiting on the prefeitura {pending}, "
            "waited on Omie's limits {waited} s"
        ).format(
            settled=summary.deals_settled,
            closed=summary.deals_closed,
            pending=summary.pending_invoices,
            waited=format_number(round(Decimal(self._read_pacing_wait()), 1)),
        )
        return f"[{self._elapsed()}] {self._stage}{self._step}: {counts}"

    def __enter__(self) -> Progress:
        if not self._quiet:
            self._thread = threading.Thread(target=self._loop, name="progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        self._emit(force=self._interactive, final=True)
        if self._interactive and not self._quiet:
            self._stream.write("\n")
            self._stream.flush()

    def _loop(self) -> None:
        while not self._stop.wait(1.0):
            self._emit()

    def _emit(self, force: bool = False, final: bool = False) -> None:
        if self._quiet:
            return
        now = time.monotonic()
        if self._interactive:
            self._stream.write("\r\x1b[2K" + self.line())
            self._stream.flush()
        elif force or final or now - self._last_plain >= PLAIN_EVERY_SECONDS:
            line = self.line()
            text = line.split("] ", 1)[-1]  # what it says, without the clock
            if text == self._last_plain_text and not force:
                return
            self._last_plain, self._last_plain_text = now, text
            self._stream.write(line + "\n")
            self._stream.flush()

    def _elapsed(self) -> str:
        seconds = int(time.monotonic() - self._started)
        return f"{seconds // 60:02d}:{seconds % 60:02d}"
