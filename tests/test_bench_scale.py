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
    figures = scale.figures(results)
    assert figures[0][0] == "growth 1,000 -> 10,000 writes" and figures[0][2] is True
    assert [(name, met) for name, _, met in figures[1:]] == [("wall_1m", None), ("rss_1m", None)]
    slow = [*results, result(100_000, 600, 700, 2_500), result(1_000_000, 5_000, 5_100, 9_000)]
    judged = {name: met for name, _, met in scale.figures(slow)}
    assert judged["growth 10,000 -> 100,000 writes"] is False  # 12x the time for 10x the writes
    assert judged["wall_1m"] is False and judged["rss_1m"] is False
    table = scale.markdown(("a", "b"), [("1", "2")])
    assert table.splitlines() == ["| a | b |", "|---|---|", "| 1 | 2 |"]


def stopped(writes: int, wall: float, rss: float, why: str = "both targets were missed") -> Any:
    return {
        "writes": writes,
        "wall": wall,
        "max_rss_mib": rss,
        "reached": "7.5% simulated",
        "stopped": why,
    }


def test_a_1m_run_stopped_early_settles_only_the_targets_it_had_passed(scale: ModuleType) -> None:
    def million(run: dict[str, Any]) -> dict[str, tuple[str, bool | None]]:
        return {name: (text, met) for name, text, met in scale.figures([run])}

    both = million(stopped(1_000_000, 130, 2_100))
    assert both["wall_1m"][1] is False and both["rss_1m"][1] is False
    assert "7.5% simulated after 130 s" in both["wall_1m"][0]
    # Stopped by the memory bound before 120 s: the wall time is not known, the RSS is.
    early = million(stopped(1_000_000, 60, 19_000, "its peak RSS passed 19,000 MiB"))
    assert early["wall_1m"][1] is None and early["rss_1m"][1] is False
    # Stopped at the wall bound under 2 GiB: the RSS target is not settled.
    lean = million(stopped(1_000_000, 10_800, 1_500, "it ran past 10,800 s"))
    assert lean["wall_1m"][1] is False and lean["rss_1m"][1] is None


def test_growth_skips_a_run_that_did_not_end(scale: ModuleType) -> None:
    runs = [result(1_000, 6, 20, 300), stopped(10_000, 50, 99_000), result(100_000, 60, 90, 600)]
    judged = scale.figures(runs)
    assert [name for name, _, _ in judged if name.startswith("growth")] == [
        "growth 1,000 -> 100,000 writes"
    ]
    rows = scale.rows_of(runs)
    assert rows[1][0] == "10,000 (asked)" and rows[1][-1] == "stopped"


def test_a_child_is_stopped_once_both_targets_are_missed_or_at_a_safety_bound(
    scale: ModuleType,
) -> None:
    until_missed = scale.Watch(until_missed=True, max_rss=16_000, max_wall=3_600)
    assert scale.stop_reason(until_missed, 100, 5_000) is None  # under 120 s
    assert scale.stop_reason(until_missed, 200, 1_000) is None  # under 2 GiB
    assert "both targets" in scale.stop_reason(until_missed, 121, 2_049)
    to_the_end = scale.Watch(until_missed=False, max_rss=16_000, max_wall=3_600)
    assert scale.stop_reason(to_the_end, 1_000, 9_000) is None
    assert "safety" in scale.stop_reason(to_the_end, 1_000, 16_001)
    assert "safety" in scale.stop_reason(to_the_end, 3_601, 100)


def test_the_childs_progress_lines(scale: ModuleType) -> None:
    assert scale.read_progress("progress simulate 0.0750\n") == "7.5% simulated"
    assert scale.read_progress("progress check 0.0000") == "checking"
    assert scale.read_progress("progress report 0.0000") == "reporting"
    for other in ("Traceback (most recent call last):", "progress simulate x", "progress"):
        assert scale.read_progress(other) is None


def test_a_child_past_its_bound_is_stopped_and_one_that_fails_says_why(scale: ModuleType) -> None:
    # A bound of no time at all: the first look stops the child, however fast the machine.
    now = scale.Watch(until_missed=False, max_rss=1e9, max_wall=0.0)
    ended = scale.child(1_000, now)
    assert ended["stopped"] == "it ran past 0 s, the safety bound"
    assert ended["reached"] == "0.0% simulated"
    # A size no scenario can have: the child exits non-zero and its own words come back.
    ample = scale.Watch(until_missed=False, max_rss=1e9, max_wall=3_600.0)
    failed = scale.child(-5, ample)
    assert failed["failed"].startswith("exit 1: ") and "scale_-5.yaml" in failed["failed"]
