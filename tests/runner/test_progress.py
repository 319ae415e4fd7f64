"""Progress lines: one per phase in a log, a live counter on a terminal."""

from __future__ import annotations

import io

from omie_pipeline.runner import progress as progress_module
from omie_pipeline.runner.progress import Progress
from omie_pipeline.runner.summary import PipelineSummary


def _progress(stream: io.StringIO, interactive: bool) -> Progress:
    return Progress(lambda: PipelineSummary(account="acme"), lambda: 0.0, stream=stream, interactive=interactive)


def test_a_long_phase_prints_one_plain_line_not_the_same_line_again(monkeypatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(progress_module, "PLAIN_EVERY_SECONDS", 0.0)
    shown = _progress(stream, interactive=False)
    shown.stage("reconciliation reports")
    for done in range(1, 18):
        shown.step(done, 17)
        shown._emit()  # what the ticking thread does
    shown.__exit__(None, None, None)  # the pass ends: nothing new to say
    shown.stage("done")
    lines = stream.getvalue().splitlines()
    assert [line.split("] ", 1)[1].split(":")[0] for line in lines] == ["reconciliation reports", "done"]


def test_the_live_line_counts_the_phases_steps() -> None:
    stream = io.StringIO()
    shown = _progress(stream, interactive=True)
    shown.stage("reconciliation reports")
    shown.step(3, 17)
    assert "reconciliation reports 3/17:" in stream.getvalue().rsplit("\x1b[2K", 1)[-1]
