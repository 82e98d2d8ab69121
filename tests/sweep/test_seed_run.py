"""One seed of a sweep in a worker: a scenario is parsed once per worker and shared by its
seeds, which must not tell the difference."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.sweep import seed_run

LIBRARY = Path(__file__).resolve().parents[2] / "scenarios"


# Scenarios whose models hold what a run could change if it wrote to what it was given: steps
# with fields and raw frames, scripted items, expectations about them.
@pytest.mark.parametrize(
    "name", ["precise_conflicts", "history_backfill", "repertoire_on_connect", "clock_skew"]
)
def test_a_seed_after_another_on_the_shared_scenario_is_the_seed_run_afresh(name: str) -> None:
    path = LIBRARY / f"{name}.yaml"
    text = path.read_text()
    seed_run.loaded.cache_clear()
    seed_run.run_seed(str(path), text, None, 1)  # parses, and runs on what it parsed
    after = seed_run.run_seed(str(path), text, None, 2)
    assert seed_run.loaded.cache_info().hits >= 1  # seed 2 ran on seed 1's scenario
    seed_run.loaded.cache_clear()
    fresh = seed_run.run_seed(str(path), text, None, 2)
    assert after.verdict != "crash", after.error
    assert (after.history_hash, after.values, after.verdict) == (
        fresh.history_hash,
        fresh.values,
        fresh.verdict,
    )


def test_a_text_that_does_not_load_is_a_crash_every_time() -> None:
    seed_run.loaded.cache_clear()
    for seed in (1, 2):
        crashed = seed_run.run_seed("x.yaml", "duration: [", None, seed)
        assert crashed.verdict == "crash"
        assert "x.yaml" in (crashed.error or "")
