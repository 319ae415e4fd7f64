"""The demo's fault schedule plays every throttling text and the record refusal, and the simulator accepts it."""

from __future__ import annotations

from omie_pipeline.runner.demo import DEMO_FAULT_SCHEDULE
from omie_pipeline.simulator.schedule import KINDS, parse_schedule


def test_the_demo_schedule_plays_every_kind_with_short_waits():
    entries = parse_schedule(DEMO_FAULT_SCHEDULE)
    assert {entry.kind for entry in entries} == set(KINDS)
    assert max(entry.seconds for entry in entries) <= 2
