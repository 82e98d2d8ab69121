"""Shared fixtures: small scenarios written as YAML text, loaded the way users load them."""

from __future__ import annotations

import pytest

from simulator.scenario.loader import Loaded, load_text

SMALL = """
name: small
seed: 3
duration: 2d
settle: 5m
devices:
  - name: phone
    link: {latency: 80ms, jitter: 40ms}
    offline: [{from: 6h, to: 1d12h}]
    reloads: [1d]
    workload: {entries_per_day: 12, update_ratio: 0.3, delete_ratio: 0.1}
  - name: laptop
    clock: {offset: 25m}
    workload: {entries_per_day: 8, update_ratio: 0.3}
expect:
  payload: 0
"""


@pytest.fixture
def small() -> Loaded:
    return load_text("small.yaml", SMALL)
