"""bench/scale.py: the family's scenarios and how its figures are judged, on made-up results.

Never a timing: the figures are computed from results given here, not measured.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from simulator.scenario.loader import load_text

PATH = Path(__file__).resolve().parents[1] / "bench" / "scale.py"


@pytest.fixture(scope="module")
def scale() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_scale", PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def result(writes: int, cpu: float, wall: float, rss: float) -> dict[str, Any]:
    third = {"cpu": cpu / 3, "wall": wall / 3}
    return {
        "writes": writes,
        "rows": writes * 26,
        "events": writes * 7,
        "simulate": third,
        "check": third,
        "report": third,
        "bare_simpy_cpu": cpu / 100,
        "max_rss_mib": rss,
        "peak_rss_after_phases_mib": [rss / 2, rss / 2, rss],
    }


def test_the_family_is_100_devices_of_20_users_at_the_asked_rate(scale: ModuleType) -> None:
    scenario = load_text("scale.yaml", scale.scenario_text(30_000)).scenario
    assert len(scenario.devices) == 100
    assert len({d.user for d in scenario.devices}) == 20
    assert {d.workload.entries_per_day for d in scenario.devices} == {10}
    assert scenario.duration == 30 * 86_400


def test_growth_is_judged_per_step_and_the_1m_figures_only_when_run(scale: ModuleType) -> None:
    results = [result(1_000, 6, 20, 300), result(10_000, 50, 90, 600)]
    figures = scale.figures(results, full=False)
    assert figures[0][0] == "growth 1,000 -> 10,000 writes" and figures[0][2] is True
    assert [(name, met) for name, _, met in figures[1:]] == [("wall_1m", None), ("rss_1m", None)]
    slow = [*results, result(100_000, 600, 700, 2_500), result(1_000_000, 5_000, 5_100, 9_000)]
    judged = {name: met for name, _, met in scale.figures(slow, full=True)}
    assert judged["growth 10,000 -> 100,000 writes"] is False  # 12x the time for 10x the writes
    assert judged["wall_1m"] is False and judged["rss_1m"] is False
    table = scale.markdown(("a", "b"), [("1", "2")])
    assert table.splitlines() == ["| a | b |", "|---|---|", "| 1 | 2 |"]
