"""Runs shared by the report tests: one small run with every kind of timeline event, rendered
once per session (the runs are deterministic, so sharing them changes no result)."""

from __future__ import annotations

import pytest

from simulator.report.render import render
from simulator.runner import run
from simulator.scenario.loader import load_text
from simulator.verdict import Run

# Two days, three devices of one user: offline windows, a reload while offline, a crash, a
# wipe, a two-way and a one-way partition, a server outage, and a bound that fails on purpose
# (writes <= 5) next to ones that hold, so the report has a FAIL and evidence to show.
EVENTFUL_YAML = """\
name: eventful
seed: 11
duration: 2d
settle: 10m
devices:
  - name: phone
    link: {latency: 80ms, jitter: 40ms}
    offline: [{from: 6h, to: 1d10h}]
    reloads: [20h]
    workload: {entries_per_day: 12, update_ratio: 0.3, delete_ratio: 0.1}
  - name: laptop
    clock: {offset: 25m}
    crashes: [1d2h]
    workload: {entries_per_day: 8, update_ratio: 0.3}
  - name: tablet
    wipes: [1d16h]
    workload: {entries_per_day: 4}
faults:
  - {kind: partition, devices: [laptop], from: 3h, to: 5h}
  - {kind: partition, devices: [tablet], direction: up, from: 1d1h, to: 1d3h}
  - {kind: server_outage, from: 1d20h, to: 1d21h}
limits:
  max_frame_bytes: 1MiB
expect:
  payload: 0
  writes: {lte: 5}
  lost_write: 0
  max_frame_bytes: {lte: 64KiB}
"""


@pytest.fixture(scope="session")
def eventful() -> tuple[Run, dict[str, bytes]]:
    result = run(load_text("eventful.yaml", EVENTFUL_YAML))
    return result, render(result)
